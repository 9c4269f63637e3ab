"""DynamoDB item operations one at a time in the embedded AWS, as DynamoDB makes them atomic.

DynamoDB checks a ``ConditionExpression`` and writes in one step; moto's server runs requests on
threads and checks, then writes, with nothing in between held. Two concurrent conditional puts
(two deploys of one service taking its lock) can then both succeed, which DynamoDB never allows.
``install`` serialises moto's item operations (in-process) behind one lock.

It also makes a transaction cost what it writes: moto backs up every table a
``TransactWriteItems`` touches with a deep copy of the whole table (to roll back a cancelled
one), which under the lock makes every transaction, and everything waiting for it, slower as
the table grows (a fleet's alarm storm writes thousands of items). ``install`` keeps the
items a transaction touches instead, restores them when it is cancelled, and tells moto's
backup to keep the table itself.

And a Query reads its partition: moto's goes through every item of the table (sorted, each
time) to find those of one partition key, so a dashboard's reads of a table holding a storm's
audit trail took seconds; DynamoDB reads the partition alone.
"""

from __future__ import annotations

import copy
import functools
import threading
from typing import Any

import moto.dynamodb.models as ddb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

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


class _KeepTables:
    """``copy`` for moto's DynamoDB models, but a deep copy of a Table is the table itself
    (what the transaction touches is kept by ``_transact`` instead)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


Kept = list[tuple[str, dict[str, Any], dict[str, Any] | None]]


def _touched(backend: DynamoDBBackend, items: list[dict[str, Any]]) -> Kept:
    """(table, key, the item's attributes now or None) of every item a transaction names."""
    kept: Kept = []
    for part in items:
        try:
            _, op = next(iter(part.items()))
            name = op["TableName"]
            table = backend.get_table(name)
            if "Key" in op:
                key = op["Key"]
            else:
                attrs = op["Item"]
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            now = backend.get_item(name, key)
        except Exception:  # a malformed transaction: moto's own checks answer it
            continue
        kept.append((name, key, copy.deepcopy(now.to_json()["Attributes"]) if now else None))
    return kept


def _restore(backend: DynamoDBBackend, kept: Kept) -> None:
    """Put every kept item back as it was (deleting those that did not exist)."""
    for name, key, attrs in reversed(kept):
        if attrs is not None:
            backend.put_item(name, attrs)
        elif backend.get_item(name, key) is not None:
            backend.delete_item(name, key)


def _transact(original: Any) -> Any:
    @functools.wraps(original)
    def transact_write_items(backend: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        items = kwargs.get("transact_items", args[0] if args else [])
        with _lock:
            kept = _touched(backend, items)
            try:
                return original(backend, *args, **kwargs)
            except BaseException:
                _restore(backend, kept)
                raise

    return transact_write_items


def _partition_query(original: Any) -> Any:
    """Table.query on the base table, given only the items of its partition key."""

    @functools.wraps(original)
    def query(table: Table, *args: Any, **kwargs: Any) -> Any:
        hash_key = args[0] if args else kwargs.get("hash_key")
        index_name = args[7] if len(args) > 7 else kwargs.get("index_name")
        if index_name or hash_key is None:
            return original(table, *args, **kwargs)
        found = table.items.get(hash_key)  # a defaultdict: never index it (that adds a key)
        if not found:
            partition: list[Any] = []
        elif table.range_key_attr:
            partition = list(found.values())
        else:
            partition = [found]
        table.all_items = lambda: partition  # type: ignore[method-assign]
        try:
            return original(table, *args, **kwargs)
        finally:
            del table.all_items

    return query


def install() -> None:
    """Serialise moto's DynamoDB item operations; transactions back up only what they touch
    (idempotent)."""
    if _originals:
        return
    for name in ITEM_OPERATIONS:
        original = getattr(DynamoDBBackend, name)

        def atomic(*args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with _lock:
                return __original(*args, **kwargs)

        _originals[name] = original
        wrapped = _transact(original) if name == "transact_write_items" else atomic
        setattr(DynamoDBBackend, name, functools.wraps(original)(wrapped))
    _originals["copy"] = ddb_models.copy
    setattr(ddb_models, "copy", _KeepTables())  # noqa: B010 (a module's global, replaced)
    _originals["table.query"] = Table.query
    Table.query = _partition_query(Table.query)  # type: ignore[method-assign]


def uninstall() -> None:
    """Restore moto's own operations."""
    for name, original in _originals.items():
        if name == "copy":
            setattr(ddb_models, "copy", original)  # noqa: B010
        elif name == "table.query":
            Table.query = original  # type: ignore[method-assign]
        else:
            setattr(DynamoDBBackend, name, original)
    _originals.clear()
