"""DynamoDB state: deployments, locks, cooldowns, certificate rotations, audit, Idempotency-Key
answers, the idempotency records of redelivered input and dashboard tokens.

The only package that knows DynamoDB item shapes; records go in and come out typed.
"""

from __future__ import annotations

from chalicelib.store.audit import AuditStore
from chalicelib.store.deployments import DeploymentStore, DeploymentUpdate
from chalicelib.store.idempotency import IdempotencyStore
from chalicelib.store.locks import CooldownClaim, LockHolder, LockResult, LockStore
from chalicelib.store.once import DeliveryInProgress, Once, OnceStore
from chalicelib.store.rotations import RotationStore
from chalicelib.store.tokens import TokenStore


class Store(
    DeploymentStore, LockStore, RotationStore, AuditStore, IdempotencyStore, OnceStore, TokenStore
):
    """Typed access to the state table."""


__all__ = [
    "CooldownClaim",
    "DeliveryInProgress",
    "DeploymentUpdate",
    "LockHolder",
    "LockResult",
    "Once",
    "Store",
]
