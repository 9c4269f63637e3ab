"""DynamoDB item operations one at a time in the embedded AWS, as DynamoDB makes them atomic.

DynamoDB checks a ``ConditionExpression`` and writes in one step; moto's server runs requests on
threads and checks, then writes, with nothing in between held. Two concurrent conditional puts
(two deploys of one service taking its lock) can then both succeed, which DynamoDB never allows.
``install`` serialises moto's item operations (in-process) behind one lock.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from moto.dynamodb.models import DynamoDBBackend

ITEM_OPERATIONS = (
    "put_item",
    "get_item",
    "update_item",
    "delete_item",
    "query",
    "scan",
    "transact_write_items",
    "execute_statement",
    "execute_transaction",
    "batch_execute_statement",
)
_lock = threading.RLock()
_originals: dict[str, Any] = {}


def install() -> None:
    """Serialise moto's DynamoDB item operations (idempotent)."""
    if _originals:
        return
    for name in ITEM_OPERATIONS:
        original = getattr(DynamoDBBackend, name)

        def atomic(*args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with _lock:
                return __original(*args, **kwargs)

        _originals[name] = original
        setattr(DynamoDBBackend, name, functools.wraps(original)(atomic))


def uninstall() -> None:
    """Restore moto's own operations."""
    for name, original in _originals.items():
        setattr(DynamoDBBackend, name, original)
    _originals.clear()
