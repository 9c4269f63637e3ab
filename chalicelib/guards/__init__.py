"""Fleet guards a person sets: freezing an environment (``freeze``). The blast-radius caps on
automated changes are enforced where alarm reactions act (``alarms.caps``)."""

from __future__ import annotations

from chalicelib.guards.freeze import MAX_REASON, FreezeRequest, UnfreezeRequest, freeze, unfreeze

__all__ = ["MAX_REASON", "FreezeRequest", "UnfreezeRequest", "freeze", "unfreeze"]
