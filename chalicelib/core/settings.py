"""Typed settings, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from chalicelib.core import names as queues

_HERE = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Settings:
    """Everything opsbot reads from its environment."""

    stage: str
    region: str
    table_name: str
    work_queue_name: str
    work_dlq_name: str
    notifications_topic_arn: str
    parameter_prefix: str
    policy_file: Path
    deploy_timeout_seconds: int
    public_url: str = ""  # the API's public base URL for links (dashboard); "" = from the request
    # when set, every approval expires after this many seconds instead of the policy's
    # ``expires_after_minutes`` (the local stack's demos and tests; unset in AWS)
    approval_expiry_seconds: int | None = None
    # Slack's Web API (the bot's chat.postMessage); another base URL only to stand in for Slack
    slack_api_url: str = "https://slack.com/api/"

    @property
    def api_tokens_parameter(self) -> str:
        """SSM SecureString: JSON map of sha256(token) -> principal name."""
        return f"{self.parameter_prefix}/api-tokens"

    @property
    def slack_webhook_parameter(self) -> str:
        """SSM SecureString: the Slack incoming-webhook URL."""
        return f"{self.parameter_prefix}/slack-webhook-url"

    @property
    def slack_bot_token_parameter(self) -> str:
        """SSM SecureString: the Slack app's bot token (``xoxb-...``, scope ``chat:write``);
        optional: without it opsbot posts with the webhook only."""
        return f"{self.parameter_prefix}/slack-bot-token"

    @property
    def slack_channel_parameter(self) -> str:
        """SSM parameter: the ID of the channel the bot posts to (``C0123ABCDEF``)."""
        return f"{self.parameter_prefix}/slack-channel"

    @property
    def slack_signing_secret_parameter(self) -> str:
        """SSM SecureString: the Slack app's signing secret."""
        return f"{self.parameter_prefix}/slack-signing-secret"


def policy_path() -> Path:
    """The policy file: ``OPSBOT_POLICY_FILE``, else the packaged ``chalicelib/policy.yaml``."""
    return Path(os.environ.get("OPSBOT_POLICY_FILE", str(_HERE / "policy.yaml")))


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"setting {name} must be a whole number, got {raw!r}") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read the settings once per process."""
    stage = os.environ.get("OPSBOT_STAGE", "local")
    return Settings(
        stage=stage,
        region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        table_name=os.environ.get("OPSBOT_TABLE", queues.STATE_TABLE),
        work_queue_name=os.environ.get("OPSBOT_WORK_QUEUE", queues.WORK_QUEUE),
        work_dlq_name=os.environ.get("OPSBOT_WORK_DLQ", queues.WORK_DLQ),
        notifications_topic_arn=os.environ.get("OPSBOT_NOTIFICATIONS_TOPIC_ARN", ""),
        parameter_prefix=os.environ.get("OPSBOT_PARAMETER_PREFIX", f"/opsbot/{stage}"),
        policy_file=policy_path(),
        deploy_timeout_seconds=_int("OPSBOT_DEPLOY_TIMEOUT_SECONDS", 900),
        public_url=os.environ.get("OPSBOT_PUBLIC_URL", ""),
        approval_expiry_seconds=_int("OPSBOT_APPROVAL_EXPIRY_SECONDS", 0) or None,
        slack_api_url=os.environ.get("OPSBOT_SLACK_API_URL") or "https://slack.com/api/",
    )
