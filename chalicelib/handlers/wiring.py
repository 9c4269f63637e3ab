"""Wiring at the handler edge: the process-wide dependencies, built on first use.

The handler modules reach this module through ``handlers.lazy``, so nothing here is imported
before the first invocation needs it.
"""

from __future__ import annotations

from functools import lru_cache

from chalicelib.aws import clients
from chalicelib.aws.notifier import Notifier
from chalicelib.aws.parameters import secure_parameter, slack_bot_credentials
from chalicelib.aws.queue import WorkQueue
from chalicelib.aws.slack_bot import SlackBot
from chalicelib.core.settings import get_settings
from chalicelib.deps import ClientFactory, Deps
from chalicelib.domain.policy import get_policy
from chalicelib.store import Store


@lru_cache(maxsize=1)
def get_deps() -> Deps:
    """The process-wide dependencies, built on first use."""
    settings = get_settings()
    return Deps(
        settings=settings,
        policy=get_policy(),
        store=Store(ddb=clients.LazyClient("dynamodb"), table=settings.table_name),  # type: ignore[arg-type]
        queue=WorkQueue(sqs=clients.LazyClient("sqs"), queue_name=settings.work_queue_name),
        notifier=Notifier(
            sns=clients.LazyClient("sns"),
            topic_arn=settings.notifications_topic_arn,
            slack_url=lambda: secure_parameter(settings.slack_webhook_parameter),
            stage=settings.stage,
            bot=SlackBot(credentials=slack_bot_credentials, base_url=settings.slack_api_url),
        ),
        aws=lambda service, env: clients.client(service, env),
        scoped_aws=_scoped,
    )


def _scoped(actor: str, deployment_id: str | None) -> ClientFactory:
    """A client factory whose assumed-role sessions are named after the actor and deployment."""
    name = clients.session_name(actor, deployment_id)
    return lambda service, env: clients.client(service, env, name)
