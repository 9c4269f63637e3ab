"""Secrets and parameters from SSM, cached, with SSM's errors told apart.

Only ``ParameterNotFound`` means a parameter is absent. Any other failure (throttling,
AccessDenied, a KMS error, SSM unreachable) is SSM being unavailable: the last answer SSM gave
is served (stale) if there is one, else ``DependencyUnavailable`` naming SSM is raised, which
the REST and Slack edges answer 503, never 401.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.core.errors import DependencyUnavailable

if TYPE_CHECKING:
    from chalicelib.aws.slack_bot import BotCredentials

#: While SSM fails, a stale answer is served this long before SSM is asked again (so a throttled
#: SSM is not hammered once per request).
RETRY_AFTER_SECONDS = 5.0


@dataclass
class _Entry:
    value: str | None  # None: SSM said ParameterNotFound
    fresh_until: float


_cache: dict[str, _Entry] = {}
_lock = threading.Lock()


def _ssm() -> Any:
    from chalicelib.aws.clients import client

    return client("ssm")


def _fetch(name: str) -> str | None:
    """Ask SSM: the decrypted value, or None for ParameterNotFound; other errors propagate."""
    from botocore.exceptions import ClientError

    try:
        resp = _ssm().get_parameter(Name=name, WithDecryption=True)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return None
        raise
    value = resp.get("Parameter", {}).get("Value")
    return str(value) if value else None


def secure_parameter(name: str, max_age: int = 300) -> str | None:
    """A SecureString parameter, cached for ``max_age`` seconds; None when SSM says it is absent.

    Absence is cached too, so an unset optional parameter (no Slack webhook) costs one SSM call
    per ``max_age``, not one per event. Raises ``DependencyUnavailable`` (naming SSM) when SSM
    fails and there is no earlier answer to fall back on.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib.aws.errors import describe
    from chalicelib.core.observability import logger

    now = time.monotonic()
    entry = _cache.get(name)
    if entry is not None and entry.fresh_until > now:
        return entry.value
    try:
        value = _fetch(name)
    except (BotoCoreError, ClientError) as exc:
        reason = describe(exc)
        if entry is not None:
            logger().warning(
                "SSM failed; serving the last good value",
                extra={"parameter": name, "error": reason},
            )
            with _lock:
                entry.fresh_until = now + min(RETRY_AFTER_SECONDS, max_age)
            return entry.value
        logger().error("SSM failed", extra={"parameter": name, "error": reason})
        raise DependencyUnavailable(
            "SSM is unavailable (opsbot cannot read its parameters); try again shortly",
            dependencies=["ssm"],
        ) from exc
    with _lock:
        _cache[name] = _Entry(value=value, fresh_until=now + max_age)
    return value


def forget() -> None:
    """Drop every cached parameter (tests, and after a rotation)."""
    with _lock:
        _cache.clear()


def api_token_map() -> dict[str, str]:
    """sha256(token) -> principal, from SSM (cached for a minute)."""
    from chalicelib.core.settings import get_settings

    raw = secure_parameter(get_settings().api_tokens_parameter, max_age=60)
    if not raw:
        return {}
    data = json.loads(raw)
    return {str(k): str(v) for k, v in data.items()}


def slack_signing_secret() -> str | None:
    """The Slack app's signing secret, from SSM (cached)."""
    from chalicelib.core.settings import get_settings

    return secure_parameter(get_settings().slack_signing_secret_parameter)


def slack_bot_credentials() -> BotCredentials | None:
    """The Slack bot's token and channel, from SSM (cached); None unless both are set."""
    from chalicelib.aws.slack_bot import BotCredentials
    from chalicelib.core.settings import get_settings

    settings = get_settings()
    token = secure_parameter(settings.slack_bot_token_parameter)
    if not token:
        return None
    channel = secure_parameter(settings.slack_channel_parameter)
    return BotCredentials(token=token, channel=channel) if channel else None
