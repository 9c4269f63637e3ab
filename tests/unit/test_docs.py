"""The documentation without building it (`make docs` builds the site, strict): every page in
the nav exists, relative links between pages and from the README resolve (anchors included), the
README stays a short front door, and the generated reference pages render from the source."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.docs_reference import PAGES, page

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


class _Loader(yaml.SafeLoader):
    """mkdocs.yml's `!!python/name:` tags are read as their names."""


_Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: suffix)


def _nav_pages(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [p for value in node.values() for p in _nav_pages(value)]
    if isinstance(node, list):
        return [p for item in node for p in _nav_pages(item)]
    return []


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return dict(yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=_Loader))


def _slug(heading: str) -> str:
    """The anchor mkdocs' toc gives a heading."""
    text = re.sub(r"[`*]", "", heading.strip()).lower()
    return re.sub(r"[\s]+", "-", re.sub(r"[^\w\s-]", "", text)).strip("-")


def _anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text())
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}


def _broken_links(source: Path) -> list[str]:
    broken = []
    for target in LINK.findall(FENCE.sub("", source.read_text())):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        file, _, anchor = target.partition("#")
        path = (source.parent / file).resolve()
        generated = path.is_relative_to(DOCS) and str(path.relative_to(DOCS)) in PAGES
        if generated:
            continue
        if not path.exists():
            broken.append(f"{source.relative_to(ROOT)}: {target} (no such file)")
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(f"{source.relative_to(ROOT)}: {target} (no such heading)")
    return broken


def test_every_page_in_the_nav_exists(config: dict[str, Any]) -> None:
    pages = _nav_pages(config["nav"])
    assert len(pages) > 20 and len(set(pages)) == len(pages)
    missing = [p for p in pages if p not in PAGES and not (DOCS / p).is_file()]
    assert missing == []
    assert set(PAGES) <= set(pages)  # every generated page is in the nav
    assert (ROOT / config["hooks"][0]).is_file()
    assert config["strict"] is True and config["site_dir"] == "site"


def test_every_page_under_docs_is_in_the_nav(config: dict[str, Any]) -> None:
    # a page left out of the nav is built but no reader finds it (mkdocs only logs it)
    pages = set(_nav_pages(config["nav"]))
    written = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert sorted(written - pages) == []


def test_links_between_pages_and_from_the_readme_resolve() -> None:
    sources = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
    broken = [b for source in sources for b in _broken_links(source)]
    assert broken == []
    readme_links = LINK.findall((ROOT / "README.md").read_text())
    assert sum(link.startswith("docs/") for link in readme_links) >= 20


def test_the_readme_is_a_short_front_door() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 300
    assert "make run" in readme and "make test" in readme
    assert "docs/img/dashboard.png" in readme and (DOCS / "img" / "dashboard.png").is_file()
    assert "A five-minute tour" in readme


def test_the_generated_reference_pages_render_from_the_source() -> None:
    openapi = page("reference/openapi.md")
    assert "## `POST /deployments`" in openapi and "### DeployRequest" in openapi
    cli = page("reference/cli-commands.md")
    for command in ("opsbot deploy", "opsbot policy validate", "opsbot policy diff"):
        assert f"`{command}`" in cli
    schema = page("reference/policy-schema.md")
    assert "### Service" in schema and "`abort_after_task_failures`" in schema
    control = page("reference/control-commands.md")
    assert "`python -m infra.local faults`" in control
