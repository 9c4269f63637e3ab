"""Secrets and parameters from SSM (Powertools' parameters utility, cached)."""

from __future__ import annotations

import json

_missing: dict[str, float] = {}


def secure_parameter(name: str, max_age: int = 300) -> str | None:
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
