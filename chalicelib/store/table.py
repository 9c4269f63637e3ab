"""The state table: one DynamoDB table, keys ``pk``/``sk``, TTL on ``expires_at`` (epoch seconds).

Item shapes exist only inside this package; every state change that can race is a conditional
write; nothing here reads the clock by itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_AUDIT_TTL_SECONDS = 400 * 86400
_DEPLOYMENT_TTL_SECONDS = 400 * 86400
_ROTATION_TTL_SECONDS = 400 * 86400


def _ser(value: Any) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    return dict(TypeSerializer().serialize(value))


def _item(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: _ser(v) for k, v in attrs.items() if v is not None}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    des = TypeDeserializer()
    out = {k: des.deserialize(v) for k, v in item.items()}
    plain: dict[str, Any] = json.loads(json.dumps(out, default=_num))
    return plain


def _num(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set):
        return sorted(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def _epoch(at: datetime) -> int:
    return int(at.timestamp())


@dataclass(frozen=True)
class Condition:
    """An extra ConditionExpression for ``Table._update``, with its names and (plain) values;
    placeholders must not clash with ``#f*``, ``:f*``, ``#st``, ``:s*``, ``#ev``, ``:ev``."""

    expression: str
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)


class Table:
    """The shared plumbing of the record stores: one client, one table, typed items."""

    def __init__(self, *, ddb: DynamoDBClient, table: str) -> None:
        self._ddb = ddb
        self._table = table

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        """One item as a plain dict without its keys and TTL, or None."""
        resp = self._ddb.get_item(
            TableName=self._table, Key=_item({"pk": pk, "sk": sk}), ConsistentRead=True
        )
        item = resp.get("Item")
        if item is None:
            return None
        record = _plain(item)
        for key in ("pk", "sk", "expires_at"):
            record.pop(key, None)
        return record

    def _put(self, attrs: dict[str, Any]) -> None:
        """Write one item as given (pointers and marks that may simply be overwritten)."""
        self._ddb.put_item(TableName=self._table, Item=_item(attrs))

    def _forcing_since(self, pk: str, sk: str, at: int, condition: Condition) -> int | None:
        """Record on the item, if ``condition`` holds, that its change is forcing since ``at``
        (epoch seconds), unless an earlier attempt recorded it: that attempt's time, or None
        (recorded now). ConditionalCheckFailed (a ClientError) when ``condition`` fails."""
        resp = self._ddb.update_item(
            TableName=self._table,
            Key=_item({"pk": pk, "sk": sk}),
            UpdateExpression="SET forcing_since = if_not_exists(forcing_since, :at)",
            ConditionExpression=condition.expression,
            ExpressionAttributeNames=condition.names,
            ExpressionAttributeValues={
                ":at": _ser(at),
                **{k: _ser(v) for k, v in condition.values.items()},
            },
            ReturnValues="ALL_OLD",
        )
        earlier = resp.get("Attributes", {}).get("forcing_since")
        return int(_plain({"v": earlier})["v"]) if earlier is not None else None

    def _update(
        self,
        pk: str,
        sk: str,
        fields: dict[str, Any],
        *,
        event: dict[str, Any] | None = None,
        expect_status: tuple[str, ...] = (),
        or_lease_expired: tuple[str, int] | None = None,
        condition: Condition | None = None,
    ) -> bool:
        """SET ``fields`` (and append ``event`` to ``events``) if the item exists and, when
        given, its status is one of ``expect_status`` or is ``or_lease_expired[0]`` with a
        ``lease_until`` before ``or_lease_expired[1]``, and ``condition`` holds. False when the
        condition did not hold."""
        request = self._update_input(
            pk,
            sk,
            fields,
            event=event,
            expect_status=expect_status,
            or_lease_expired=or_lease_expired,
            condition=condition,
        )
        if request is None:
            return True
        try:
            self._ddb.update_item(TableName=self._table, **request)
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _update_input(
        self,
        pk: str,
        sk: str,
        fields: dict[str, Any],
        *,
        event: dict[str, Any] | None = None,
        expect_status: tuple[str, ...] = (),
        or_lease_expired: tuple[str, int] | None = None,
        condition: Condition | None = None,
    ) -> dict[str, Any] | None:
        """The Key/UpdateExpression/ConditionExpression/... of ``_update`` (for UpdateItem or a
        TransactWriteItems ``Update``); None when there is nothing to set."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        sets: list[str] = []
        for i, (key, value) in enumerate(fields.items()):
            names[f"#f{i}"] = key
            values[f":f{i}"] = _ser(value)
            sets.append(f"#f{i} = :f{i}")
        if event is not None:
            names["#ev"] = "events"
            values[":ev"] = _ser([event])
            values[":empty"] = _ser([])
            sets.append("#ev = list_append(if_not_exists(#ev, :empty), :ev)")
        if not sets:
            return None
        allowed: list[str] = []
        if expect_status:
            names["#st"] = "status"
            keys = []
            for i, status in enumerate(expect_status):
                values[f":s{i}"] = _ser(status)
                keys.append(f":s{i}")
            allowed.append(f"#st IN ({', '.join(keys)})")
        if or_lease_expired is not None:
            names["#st"] = "status"
            names["#lu"] = "lease_until"
            values[":leased"] = _ser(or_lease_expired[0])
            values[":now"] = _ser(or_lease_expired[1])
            allowed.append("(#st = :leased AND #lu < :now)")
        expression = "attribute_exists(pk)"
        if allowed:
            expression += f" AND ({' OR '.join(allowed)})"
        if condition is not None:
            expression += f" AND ({condition.expression})"
            names.update(condition.names)
            values.update({k: _ser(v) for k, v in condition.values.items()})
        return {
            "Key": _item({"pk": pk, "sk": sk}),
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def _newest_merged(
        self, partitions: list[str], limit: int, before: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the newest items of several partitions together (sort keys descending,
        below ``before`` when given): each partition is queried for at most ``limit`` items,
        never scanned. Returns the page's items (plain, keys kept) and the sort key to pass as
        ``before`` for the next page: None when none can follow (a partition that filled its
        limit may have more, so the page after it can be empty)."""
        found: list[dict[str, Any]] = []
        full = False
        for partition in partitions:
            items, more = self._query_newest(partition, limit, before)
            found += items
            full = full or more
        found.sort(key=lambda item: str(item["sk"]), reverse=True)
        page = found[:limit]
        more = full or len(found) > limit
        return page, str(page[-1]["sk"]) if more and page else None

    def _query_newest(
        self, partition: str, limit: int, before: str | None
    ) -> tuple[list[dict[str, Any]], bool]:
        """At most ``limit`` items of a partition, newest first, and whether more may follow."""
        condition = "pk = :pk"
        values = {":pk": _ser(partition)}
        if before is not None:
            condition += " AND sk < :before"
            values[":before"] = _ser(before)
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
        }
        out: list[dict[str, Any]] = []
        while True:  # more than one query only when a page hits DynamoDB's 1 MB
            resp = self._ddb.query(**kwargs, Limit=limit - len(out))
            out += [_plain(item) for item in resp.get("Items", [])]
            if "LastEvaluatedKey" not in resp:
                return out, False
            if len(out) >= limit:
                return out, True
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def ping(self) -> None:
        """Cheapest call that proves the table answers."""
        self._ddb.get_item(TableName=self._table, Key=_item({"pk": "HEALTH", "sk": "HEALTH"}))
