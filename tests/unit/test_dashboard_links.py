"""Where the dashboard link points (``public_url``) and what the Slack reply carries."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from chalicelib.core.settings import get_settings
from chalicelib.handlers.http import public_url
from chalicelib.status import dashboard


def _request(headers: dict[str, str], context: dict[str, Any] | None = None) -> Any:
    return SimpleNamespace(headers=headers, context=context or {})


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("OPSBOT_PUBLIC_URL", raising=False)
    monkeypatch.setenv("OPSBOT_STAGE", "prod")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_api_gateway_domain_carries_its_stage() -> None:
    request = _request(
        {"host": "abc.execute-api.us-east-1.amazonaws.com"},
        {"domainName": "abc.execute-api.us-east-1.amazonaws.com", "stage": "api"},
    )
    assert public_url(request) == "https://abc.execute-api.us-east-1.amazonaws.com/api"


def test_a_custom_domain_has_no_stage_and_the_setting_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    request = _request({"host": "ops.example.com"}, {"domainName": "ops.example.com"})
    assert public_url(request) == "https://ops.example.com"
    monkeypatch.setenv("OPSBOT_PUBLIC_URL", "https://opsbot.example.org/")
    get_settings.cache_clear()
    assert public_url(request) == "https://opsbot.example.org"


def test_locally_http_and_a_hostile_host_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSBOT_STAGE", "local")
    get_settings.cache_clear()
    assert public_url(_request({"host": "127.0.0.1:8000"})) == "http://127.0.0.1:8000"
    evil = _request({"host": "x.com/<script>", "x-forwarded-proto": "javascript"})
    assert public_url(evil) == "http://localhost"


def test_the_link_carries_the_token_in_its_fragment_only() -> None:
    link = dashboard.dashboard_link("https://ops.example.com/", "opsbot-read-abc")
    assert link == "https://ops.example.com/ui#token=opsbot-read-abc"


def test_only_dashboard_tokens_are_looked_up_in_the_table() -> None:
    class Boom:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError("the store must not be read")

    deps: Any = SimpleNamespace(store=Boom())
    assert dashboard.read_token_principal(deps, "an-api-token") is None
    assert dashboard.read_token_principal(deps, dashboard.PREFIX + "x" * 500) is None
