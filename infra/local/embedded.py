"""The embedded AWS as the stack and its control commands see it: environment and clients.

These are the local stack's own clients (boto3's default session), never the product's: faults
injected into opsbot's functions do not touch them.
"""

from __future__ import annotations

from typing import Any

from infra.local.settings import REGION


def aws_env(endpoint: str) -> dict[str, str]:
    """The environment that points boto3 at the embedded AWS."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }


def client(service: str) -> Any:
    """A boto3 client of the embedded AWS (``AWS_ENDPOINT_URL`` must point at it)."""
    import boto3

    return boto3.client(service, region_name=REGION)  # type: ignore[call-overload]
