"""Environment freezes: one item per environment, ``FREEZE#<env>`` / ``FREEZE``.

The item stays after an unfreeze (``frozen`` false, who unfroze it and when); a read is one
GetItem whatever the state.
"""

from __future__ import annotations

from typing import Any

from chalicelib.records.guards import Freeze
from chalicelib.store.table import Table


def _freeze(environment: str, found: dict[str, Any] | None) -> Freeze:
    if not found or not found.get("frozen"):
        return Freeze(environment, frozen=False)
    return Freeze(
        environment, frozen=True, by=found.get("by"), reason=found.get("reason"), at=found.get("at")
    )


class FreezeStore(Table):
    """Freeze and unfreeze environments; whether they are frozen."""

    def set_freeze(self, freeze: Freeze) -> None:
        """Record an environment's freeze (or its end): a plain write, the last one wins."""
        self._put(
            {
                "pk": f"FREEZE#{freeze.environment}",
                "sk": "FREEZE",
                "frozen": freeze.frozen,
                "by": freeze.by,
                "reason": freeze.reason,
                "at": freeze.at,
            }
        )

    def freeze_of(self, environment: str) -> Freeze:
        """Whether ``environment`` is frozen (one consistent GetItem)."""
        return _freeze(environment, self._get(f"FREEZE#{environment}", "FREEZE"))

    def freezes(self, environments: list[str]) -> dict[str, Freeze]:
        """The freeze of each environment named (one GetItem each)."""
        return {name: self.freeze_of(name) for name in environments}
