"""Wiring: builds the dependencies handlers pass to capability code, once per process.

Capability modules never build clients or read the clock themselves; they receive a ``Deps``.
Tests build their own ``Deps`` pointed at the embedded AWS or a botocore Stubber.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.notifications import Notifier
    from chalicelib.policy import Environment, Policy
    from chalicelib.settings import Settings
    from chalicelib.store import Store


def utcnow() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


class WorkQueue:
    """The work queue: typed messages in, optional delay."""

    def __init__(self, *, sqs: Any, queue_name: str) -> None:
        self._sqs = sqs
        self._name = queue_name
        self._url: str | None = None

    @property
    def url(self) -> str:
        """The queue URL, looked up once."""
        if self._url is None:
            self._url = self._sqs.get_queue_url(QueueName=self._name)["QueueUrl"]
        return self._url

    def send(self, message: Any, *, delay_seconds: int = 0) -> None:
        """Enqueue a pydantic message; delay is capped at SQS's 900 s."""
        self._sqs.send_message(
            QueueUrl=self.url,
            MessageBody=message.model_dump_json(),
            DelaySeconds=max(0, min(900, delay_seconds)),
        )

    def ping(self) -> None:
        """Cheapest call that proves the queue answers."""
        self._sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])


@dataclass
class Deps:
    """What capability code needs from the outside world."""

    settings: Settings
    policy: Policy
    store: Store
    queue: WorkQueue
    notifier: Notifier
    aws: Callable[[str, Environment], Any]
    clock: Callable[[], datetime] = utcnow


_missing: dict[str, float] = {}


def _secure_parameter(name: str, max_age: int = 300) -> str | None:
    """A SecureString parameter (Powertools caches it for ``max_age``); None when absent.

    Absence is remembered for ``max_age`` too, so an unset optional parameter (no Slack webhook)
    costs one SSM call per ``max_age``, not one per event.
    """
    import time

    from aws_lambda_powertools.utilities import parameters

    if _missing.get(name, 0) > time.monotonic():
        return None
    try:
        value = parameters.get_parameter(name, decrypt=True, max_age=max_age)
    except parameters.exceptions.GetParameterError:
        _missing[name] = time.monotonic() + max_age
        return None
    return str(value) if value else None


def api_token_map() -> dict[str, str]:
    """sha256(token) -> principal, from SSM (cached for a minute)."""
    from chalicelib.settings import get_settings

    raw = _secure_parameter(get_settings().api_tokens_parameter, max_age=60)
    if not raw:
        return {}
    data = json.loads(raw)
    return {str(k): str(v) for k, v in data.items()}


def slack_signing_secret() -> str | None:
    """The Slack app's signing secret, from SSM (cached)."""
    from chalicelib.settings import get_settings

    return _secure_parameter(get_settings().slack_signing_secret_parameter)


@lru_cache(maxsize=1)
def get_deps() -> Deps:
    """The process-wide dependencies, built on first use."""
    from chalicelib import clients
    from chalicelib.notifications import Notifier
    from chalicelib.policy import get_policy
    from chalicelib.settings import get_settings
    from chalicelib.store import Store

    settings = get_settings()
    return Deps(
        settings=settings,
        policy=get_policy(),
        store=Store(ddb=clients.LazyClient("dynamodb"), table=settings.table_name),  # type: ignore[arg-type]
        queue=WorkQueue(sqs=clients.LazyClient("sqs"), queue_name=settings.work_queue_name),
        notifier=Notifier(
            sns=clients.LazyClient("sns"),
            topic_arn=settings.notifications_topic_arn,
            slack_url=lambda: _secure_parameter(settings.slack_webhook_parameter),
        ),
        aws=lambda service, env: clients.client(service, env),
    )
