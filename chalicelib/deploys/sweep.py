"""The sweeper (a schedule, every minute): nothing stuck waits for someone to retry.

It reads the lock of every service of the policy (consistent BatchGetItem reads, 100 locks a
call: a fleet of 1,000 services costs 10 calls a minute, not 1,000; then one read of each
holder found: no scan, no index to keep) and deals with what ``domain.holders`` finds: a deployment
whose start never reached the worker (or whose worker died and whose message is gone) is handed
to the worker again; a lock whose holder does not exist, or has ended, is released. A queued
deployment always holds its service's lock (both are written in one transaction), so every
stuck start is found this way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.core.observability import count
from chalicelib.domain.holders import Verdict, examine
from chalicelib.records.target import Target

if TYPE_CHECKING:
    from chalicelib.deps import Deps

SWEEPER = "schedule:sweeper"  # who the audit trail and the record say acted (as schedule:budgets)


def sweep(deps: Deps) -> list[dict[str, Any]]:
    """Resume or free what is stuck on each service's lock; one line per thing done."""
    now = deps.clock()
    done: list[dict[str, Any]] = []
    targets = [
        Target.service(env_name, service)
        for env_name, env in deps.policy.environments.items()
        for service in env.services
    ]
    held = deps.store.lock_holders([t.lock for t in targets])
    for target in targets:
        lock = held.get(target.lock)
        if lock is None:
            continue
        found = examine(deps, target, lock.owner, now=now, actor=SWEEPER)
        if found.verdict == Verdict.BUSY:
            continue
        if found.verdict == Verdict.STALE:
            deps.store.release_lock(target.lock, found.holder)
        count("SweeperFound", environment=target.environment, service=target.name)
        outcome = "released" if found.verdict == Verdict.STALE else str(found.verdict)
        line = {"target": target.label, "holder": found.holder, "outcome": outcome}
        done.append({**line, "reason": found.note})
    return done
