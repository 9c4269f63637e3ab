"""The embedded DynamoDB (``infra.local.ddb_atomic``): transactions all or nothing, as
DynamoDB makes them, backing up only the items they touch; a Query reads its partition only."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.local import ddb_atomic
from tests.state_table import create_state_table

TABLE = "state"


@pytest.fixture
def ddb() -> Iterator[Any]:
    with mock_aws():
        ddb_atomic.install()
        try:
            client = boto3.client("dynamodb", region_name="us-east-1")
            create_state_table(client, TABLE)
            yield client
        finally:
            ddb_atomic.uninstall()


def put(pk: str, value: str, condition: str | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {
        "TableName": TABLE,
        "Item": {"pk": {"S": pk}, "sk": {"S": "X"}, "v": {"S": value}},
    }
    if condition:
        op["ConditionExpression"] = condition
    return {"Put": op}


def value(ddb: Any, pk: str) -> str | None:
    item = ddb.get_item(TableName=TABLE, Key={"pk": {"S": pk}, "sk": {"S": "X"}}).get("Item")
    return item["v"]["S"] if item else None


def test_a_transaction_writes_every_item(ddb: Any) -> None:
    ddb.transact_write_items(TransactItems=[put("a", "1"), put("b", "1")])
    assert (value(ddb, "a"), value(ddb, "b")) == ("1", "1")


def test_a_cancelled_transaction_leaves_every_item_as_it_was(ddb: Any) -> None:
    ddb.put_item(TableName=TABLE, Item=put("a", "old")["Put"]["Item"])
    ddb.put_item(TableName=TABLE, Item=put("c", "taken")["Put"]["Item"])
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(
            TransactItems=[
                put("a", "new"),  # written by moto before the next one fails: put back
                put("b", "new"),  # did not exist: removed again
                put("c", "new", condition="attribute_not_exists(pk)"),  # fails
            ]
        )
    assert (value(ddb, "a"), value(ddb, "b"), value(ddb, "c")) == ("old", None, "taken")


def test_no_transaction_copies_the_table(ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb.models.table import Table

    copied: list[str] = []
    real = copy.deepcopy

    def spy(value: Any, memo: Any = None) -> Any:
        if isinstance(value, Table):
            copied.append(value.name)
        return real(value, memo)

    monkeypatch.setattr(copy, "deepcopy", spy)
    ddb.transact_write_items(TransactItems=[put("a", "1")])
    assert copied == []


def test_a_query_reads_its_partition_only(ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb.models.table import Table

    for pk in ("a", "b", "c"):
        for sk in ("1", "3", "2"):
            ddb.put_item(TableName=TABLE, Item={"pk": {"S": pk}, "sk": {"S": sk}})
    whole: list[str] = []
    real = Table.all_items

    def spy(table: Any) -> Any:
        whole.append(table.name)
        return real(table)

    monkeypatch.setattr(Table, "all_items", spy)
    found = ddb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "b"}},
        ScanIndexForward=False,
        Limit=2,
    )
    assert [(i["pk"]["S"], i["sk"]["S"]) for i in found["Items"]] == [("b", "3"), ("b", "2")]
    rest = ddb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "b"}},
        ScanIndexForward=False,
        ExclusiveStartKey=found["LastEvaluatedKey"],
    )
    assert [i["sk"]["S"] for i in rest["Items"]] == ["1"]
    none = ddb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "nobody"}},
    )
    assert none["Items"] == []
    assert whole == []  # no query went through every item of the table
