"""The state table's key schema, as infra/template.yaml declares it, for tests on moto."""

from __future__ import annotations

from typing import Any


def create_state_table(ddb: Any, name: str) -> None:
    """Create opsbot's state table (``pk``/``sk`` strings, on demand) named ``name``."""
    ddb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
