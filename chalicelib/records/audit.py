"""The audit record: who did what to which target, with what result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# The details most entries carry, typed; anything else a capability adds goes in ``details``.
_TYPED = ("reason", "deployment_id", "image", "before", "after")

# Results of entries that record something opsbot did not do: requests refused (409 conflict,
# 400 rejected, 403 refused), dry runs, and alarm reactions that changed nothing. They stay in
# the audit trail; a target's history (``/opsbot history``) leaves them out, so a burst of them
# never pushes real deploys and scalings out of view.
NOT_DONE = frozenset(
    {
        "conflict",
        "rejected",
        "refused",
        "forbidden",
        "at_bound",
        "cooldown",
        "held",
        "busy",
        "dropped",
        "dry_run",
        "held_by_cap",
        "frozen",
    }
)


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit trail.

    ``target`` is a target's label (``demo/web``, ``demo/budget:monthly-ops``,
    ``demo/example.com``); certificate ARNs, listeners, problems and the like are in ``details``.
    """

    at: datetime
    actor: str
    action: str
    environment: str
    target: str
    result: str
    reason: str | None = None
    deployment_id: str | None = None
    image: str | None = None
    before: int | None = None
    after: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        *,
        at: datetime,
        actor: str,
        action: str,
        environment: str,
        target: str,
        result: str,
        **details: Any,
    ) -> AuditEntry:
        """An entry from keyword details: the typed ones by name, the rest in ``details``."""
        typed = {k: details.pop(k) for k in _TYPED if k in details}
        rest = {k: v for k, v in details.items() if v is not None}
        return cls(
            at=at,
            actor=actor,
            action=action,
            environment=environment,
            target=target,
            result=result,
            **typed,
            details=rest,
        )

    @property
    def done(self) -> bool:
        """Whether it records something done (a target's history), not a refusal or a skip."""
        return self.result not in NOT_DONE

    @property
    def service(self) -> str:
        """The target's name within its environment (``web`` of ``demo/web``)."""
        return self.target.split("/", 1)[1] if "/" in self.target else self.target

    @property
    def stamp(self) -> str:
        """``at`` as the audit trail writes it: ISO-8601 UTC with a Z, to the microsecond."""
        return self.at.isoformat().replace("+00:00", "Z")

    def extras(self) -> dict[str, Any]:
        """Every detail that is set, the typed ones first."""
        typed = {k: getattr(self, k) for k in _TYPED}
        return {k: v for k, v in {**typed, **self.details}.items() if v is not None}
