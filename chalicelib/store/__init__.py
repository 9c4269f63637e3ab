"""DynamoDB state: deployments, locks, cooldowns, certificate rotations, audit, Idempotency-Key
answers, the idempotency records of redelivered input, dashboard tokens, the Slack requests
already received, environment freezes and the blast-radius cap counters.

The only package that knows DynamoDB item shapes; records go in and come out typed.
"""

from __future__ import annotations

from chalicelib.store.admission import AdmissionStore
from chalicelib.store.audit import AuditStore
from chalicelib.store.caps import CapStore, bucket_of
from chalicelib.store.deployments import DeploymentStore, DeploymentUpdate
from chalicelib.store.freeze import FreezeStore
from chalicelib.store.idempotency import IdempotencyStore
from chalicelib.store.locks import CooldownClaim, LockHolder, LockResult, LockStore
from chalicelib.store.once import DeliveryInProgress, Once, OnceStore
from chalicelib.store.rotations import RotationStore
from chalicelib.store.slack_requests import SlackRequestStore
from chalicelib.store.tokens import TokenStore


class Store(
    DeploymentStore,
    AdmissionStore,
    LockStore,
    RotationStore,
    AuditStore,
    IdempotencyStore,
    OnceStore,
    TokenStore,
    SlackRequestStore,
    CapStore,
    FreezeStore,
):
    """Typed access to the state table."""

    def describe_holder(self, owner: str) -> str:
        """A lock's holder for people and the audit: the deployment (what, whose, where it is)
        or the scaling that holds it; the owner's name as it is when neither."""
        if owner.startswith("scale:"):
            actor = owner.split(":")[1] if owner.count(":") >= 2 else "?"
            return f"a scaling by {actor} ({owner})"
        deployment = self.get_deployment(owner) if owner.startswith("dep-") else None
        if deployment is None:
            return owner
        image = deployment.image.rsplit("/", 1)[-1]
        return f"{deployment.action} {owner} ({image} by {deployment.actor}, {deployment.status})"


__all__ = [
    "CooldownClaim",
    "DeliveryInProgress",
    "DeploymentUpdate",
    "LockHolder",
    "LockResult",
    "Once",
    "Store",
    "bucket_of",
]
