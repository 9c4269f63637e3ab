"""Guards consulted before every scale-out. A guard returns None to allow, or why it holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.actions import Plan
    from chalicelib.policy import Environment
    from chalicelib.runtime import Deps


def check_scale_out(deps: Deps, env: Environment, plan: Plan) -> str | None:
    """None to let a scale-out go ahead; a reason to hold it.

    Allows everything for now; the budget capability gives it teeth (hold scale-outs while an
    environment is over its budget).
    """
    return None
