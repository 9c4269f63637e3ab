"""Lambda SnapStart: warm before the snapshot, make every restored copy unique after it.

The event and worker functions publish versions with SnapStart on (``infra/iam.py`` writes
``AutoPublishAlias`` and ``SnapStart`` into the merge template). Lambda then runs init once,
snapshots the process and restores copies of it: a cold start becomes a restore. The Lambda
Python runtime (3.12 and later) provides ``snapshot_restore_py``; anywhere else (local stack,
tests) it is absent and nothing here runs.

- before the snapshot: import what an event needs (capabilities, pydantic, Powertools), load
  the policy and parse the AWS service models, so the restored process starts warm;
- after each restore: reseed ``random`` (botocore's retry jitter; every copy would otherwise
  draw the same numbers) and drop every client and session: pooled connections made before
  the snapshot are dead, and credentials must not be shared between copies.
"""

from __future__ import annotations

import importlib
import os
import random
from collections.abc import Callable

# What every event or worker invocation may need; imported before the snapshot.
WARM_MODULES = (
    "chalicelib.alarms",
    "chalicelib.deploys",
    "chalicelib.scaling",
    "chalicelib.worker",
    "chalicelib.certificates",
    "chalicelib.budgets",
    "chalicelib.store",
    "aws_lambda_powertools.utilities.idempotency",
    "aws_lambda_powertools.utilities.batch",
)
WARM_SERVICES = ("dynamodb", "sqs", "sns", "ssm", "ecs", "ecr", "application-autoscaling")


def before_snapshot() -> None:
    """Do the work of a first event that does not depend on the event or the copy."""
    from chalicelib.aws import clients
    from chalicelib.handlers.wiring import get_deps

    for name in WARM_MODULES:
        importlib.import_module(name)
    get_deps()  # settings and the policy, validated
    clients.preload(WARM_SERVICES)


def after_restore() -> None:
    """Make this copy unique: fresh randomness, fresh clients and credentials."""
    from chalicelib.aws import clients

    random.seed()  # from os.urandom
    clients.reset()


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
