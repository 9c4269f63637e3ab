"""What the local stack is: its fixed names and the settings ``make run`` reads."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
REGION = "us-east-1"
# how often a local server checks whether it is being stopped (socketserver's default: 0.5 s)
STOP_POLL_SECONDS = 0.05
STACK_NAME = "opsbot-local"
NAME_PREFIX = "opsbot"
LOCAL_ADMIN = "local-admin"
LOCAL_LEAD = "demo-lead"  # U0DEMOLEAD in the demo policy: approves in prod


def state_dir() -> Path:
    """Where the stack keeps its state (``OPSBOT_LOCAL_DIR``, default ``.opsbot/local``)."""
    return Path(os.environ.get("OPSBOT_LOCAL_DIR", str(ROOT / ".opsbot" / "local")))


@dataclass
class LocalSettings:
    """What ``make run`` reads from its environment."""

    aws_port: int
    api_port: int
    api_token: str
    token_generated: bool
    lead_token: str
    lead_token_generated: bool
    slack_signing_secret: str
    secret_generated: bool
    state_dir: Path
    rollout_seconds: float
    acm_seconds: float
    deploy_timeout_seconds: int
    approval_expiry_seconds: int | None
    # the local Slack workspace's bot (the sink answers chat.postMessage for it): alarm
    # reactions post as the bot, so their follow-ups are thread replies
    slack_bot_token: str = field(default_factory=lambda: f"xoxb-local-{secrets.token_hex(12)}")
    slack_channel: str = "C0LOCALOPS"
    # asynchronous invocations (SNS, EventBridge) of one function run at once, as Lambda runs
    # them concurrently; 1 (the default) delivers them one after another, in order
    async_concurrency: int = 1

    @classmethod
    def from_env(cls) -> LocalSettings:
        """Read settings; generate the token and signing secret when unset."""
        token = os.environ.get("OPSBOT_API_TOKEN", "")
        lead = os.environ.get("OPSBOT_LEAD_TOKEN", "")
        expiry = os.environ.get("OPSBOT_APPROVAL_EXPIRY_SECONDS", "")
        secret = os.environ.get("OPSBOT_SLACK_SIGNING_SECRET", "")
        return cls(
            aws_port=int(os.environ.get("OPSBOT_AWS_PORT", "4566")),
            api_port=int(os.environ.get("OPSBOT_API_PORT", "8000")),
            api_token=token or f"opsbot-{secrets.token_urlsafe(24)}",
            token_generated=not token,
            lead_token=lead or f"opsbot-lead-{secrets.token_urlsafe(24)}",
            lead_token_generated=not lead,
            slack_signing_secret=secret or secrets.token_hex(16),
            secret_generated=not secret,
            state_dir=state_dir(),
            rollout_seconds=float(os.environ.get("OPSBOT_LOCAL_ROLLOUT_SECONDS", "3")),
            acm_seconds=float(os.environ.get("OPSBOT_LOCAL_ACM_SECONDS", "2")),
            deploy_timeout_seconds=int(os.environ.get("OPSBOT_DEPLOY_TIMEOUT_SECONDS", "900")),
            approval_expiry_seconds=int(expiry) if expiry else None,
            async_concurrency=max(1, int(os.environ.get("OPSBOT_LOCAL_CONCURRENCY", "1"))),
        )
