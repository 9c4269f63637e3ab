"""``opsbot``: the operator's command line, a thin client of opsbot's REST API.

Standard library only, so CI can install it anywhere (``pip install`` from a checkout of this
repository) and ``make run``/``make test`` can put it into ``.venv/bin`` without a network.
"""

from __future__ import annotations

__version__ = "0.1.0"
