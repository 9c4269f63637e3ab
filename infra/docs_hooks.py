"""mkdocs hooks (``hooks:`` in mkdocs.yml): the reference pages generated from the source
(``infra/docs_reference.py``) join the site's files, so `make docs` always documents the code
it builds from and nothing generated is committed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def on_files(files: Any, config: Any) -> Any:
    """Add each generated page (mkdocs' ``File.generated``)."""
    from mkdocs.structure.files import File

    # mkdocs loads this file by path and then restores sys.path: the checkout's packages
    # (chalicelib, opsbot_cli, infra) are made importable here, when the pages are made
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from infra.docs_reference import PAGES, page

    for path in PAGES:
        files.append(File.generated(config, path, content=page(path)))
    return files
