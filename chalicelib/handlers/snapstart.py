"""Lambda SnapStart: warm before the snapshot, make every restored copy unique after it.

The event and worker functions publish versions with SnapStart on (``infra/iam.py`` writes
``AutoPublishAlias`` and ``SnapStart`` into the merge template). Lambda then runs init once,
snapshots the process and restores copies of it: a cold start becomes a restore. The Lambda
Python runtime (3.12 and later) provides ``snapshot_restore_py``; anywhere else (local stack,
tests) it is absent and nothing here runs.

- before the snapshot: prime (``handlers.prime``): import what the function's handlers reach,
  build its models, its clients (credentials deferred) and its dependencies, load the policy;
- after each restore: reseed ``random`` (botocore's retry jitter; every copy would otherwise
  draw the same numbers), drop the clients' pooled connections (a connection made before the
  snapshot is dead) and every assumed-role session; credentials are resolved by this copy's
  first request, never taken from the snapshot.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable


def before_snapshot() -> None:
    """Do the work of a first event that does not depend on the event or the copy."""
    from chalicelib.core.observability import logger
    from chalicelib.handlers.prime import prime

    primed = prime()
    logger().info(
        "primed for the snapshot",
        extra={
            "function": primed.function,
            "modules": primed.modules,
            "models": primed.models,
            "clients": primed.clients,
        },
    )


def after_restore() -> None:
    """Make this copy unique: fresh randomness, no pooled connection or credentials from
    before the snapshot."""
    from chalicelib.aws import clients

    random.seed()  # from os.urandom
    clients.renew()


def register() -> bool:
    """Register the hooks when the Lambda runtime offers them (SnapStart functions); whether
    they were registered. Costs one failed import elsewhere."""
    try:
        from snapshot_restore_py import (
            register_after_restore,
            register_before_snapshot,
        )
    except ImportError:
        return False
    before: Callable[[Callable[[], None]], object] = register_before_snapshot
    after: Callable[[Callable[[], None]], object] = register_after_restore
    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "snap-start":
        before(before_snapshot)
    after(after_restore)
    return True
