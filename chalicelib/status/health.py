"""Health: does each dependency answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.deps import Deps


@dataclass(frozen=True)
class Health:
    """The result of one round of probes: ``checks`` maps a dependency to ``ok`` or why not."""

    stage: str
    environments: list[str]
    checks: dict[str, str]

    @property
    def failing(self) -> list[str]:
        """The dependencies that did not answer, sorted."""
        return sorted(k for k, v in self.checks.items() if v != "ok")

    @property
    def healthy(self) -> bool:
        """Every dependency answered."""
        return not self.failing


def health(deps: Deps) -> Health:
    """Probe the state table and the work queue once each."""
    checks: dict[str, str] = {}
    for name, probe in (("dynamodb", deps.store.ping), ("sqs", deps.queue.ping)):
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"unreachable: {type(exc).__name__}: {exc}"
    return Health(
        stage=deps.settings.stage, environments=sorted(deps.policy.environments), checks=checks
    )
