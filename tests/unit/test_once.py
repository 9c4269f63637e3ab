"""The idempotency layer: on the state table, built once per scope, allowed by the policies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.store import Store
from chalicelib.store.once import DYNAMODB_ACTIONS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("stage", ["dev", "prod"])
@pytest.mark.parametrize(
    "function", ["alarm_notification", "ecs_deployment_state", "acm_certificate_event"]
)
def test_the_functions_may_do_what_the_idempotency_layer_does(stage: str, function: str) -> None:
    policy = json.loads((ROOT / ".chalice" / f"policy-{stage}-{function}.json").read_text())
    [table] = [s for s in policy["Statement"] if s["Sid"] == "StateTable"]
    assert set(DYNAMODB_ACTIONS) <= set(table["Action"])


def test_one_persistence_layer_per_scope_on_the_stores_own_client() -> None:
    import boto3

    ddb = boto3.client("dynamodb", region_name="us-east-1")
    store = Store(ddb=ddb, table="opsbot-state")
    alarm = store._layer("alarm")
    assert store._layer("alarm") is alarm
    assert store._layer("ecs-event") is not alarm
    assert alarm.client is ddb
    assert (alarm.table_name, alarm.key_attr, alarm.sort_key_attr) == ("opsbot-state", "pk", "sk")
    assert alarm.static_pk_value == "IDEMPOTENCY#alarm"
    assert alarm.expiry_attr == "expires_at"  # the table's TTL attribute
