"""``python -m opsbot_cli``: the same as the ``opsbot`` console script."""

from __future__ import annotations

import sys

from opsbot_cli.main import main

sys.exit(main())
