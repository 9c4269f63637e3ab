"""Stand in for Slack: every Slack post the app makes lands in the local Slack sink.

opsbot posts to its incoming webhook (a URL from SSM, which the local stack points at the sink)
and to the ``response_url`` Slack put in each slash command or button press (a
``https://hooks.slack.com/...`` URL, which cannot be reached here). This relay makes
``slack_sdk``'s WebhookClient, the one client opsbot posts with, send to the sink whatever the
URL, so the sink records exactly the payload that would have gone to Slack (the bot's Web API
calls go to the sink already: ``OPSBOT_SLACK_API_URL`` points there). Each post also
names, in a header the sink keeps to itself, the input of the invocation that made it (an SNS
message id, an event id), so a control command can find what its own notification caused. It is
installed only by the local stack and its control commands; the product code does not know.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
_installed: dict[str, Any] = {}


def relayed(url: str, sink_url: str) -> str:
    """Where a post to ``url`` goes locally: itself if loopback, else the sink."""
    if urlsplit(url).hostname in _LOCAL_HOSTS:
        return url
    return f"{sink_url}/slack/relay?to={quote(url, safe='')}"


def install(sink_url: str) -> None:
    """Route every WebhookClient post to the sink (idempotent)."""
    from slack_sdk.webhook import WebhookClient

    if "init" in _installed:
        _installed["sink"] = sink_url
        return
    original = WebhookClient.__init__
    _installed.update(init=original, sink=sink_url)

    def __init__(self: WebhookClient, url: str, *args: Any, **kwargs: Any) -> None:
        original(self, relayed(url, _installed["sink"]), *args, **kwargs)

    original_send = WebhookClient.send_dict
    _installed["send_dict"] = original_send

    def send_dict(
        self: WebhookClient, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> Any:
        from infra.local.lambda_runtime import current
        from infra.local.sink import INPUT_HEADER

        running = current()
        if running is not None:
            headers = {**(headers or {}), INPUT_HEADER: running.input_id}
        return original_send(self, body, headers)

    WebhookClient.__init__ = __init__  # type: ignore[method-assign]
    WebhookClient.send_dict = send_dict  # type: ignore[method-assign]
    _tag_web_api_calls()


def _tag_web_api_calls() -> None:
    """The bot's Web API calls (``chat.postMessage``, to the sink's ``/api/``) name their
    invocation's input too."""
    from slack_sdk import WebClient

    original_call = WebClient.api_call
    _installed["api_call"] = original_call

    def api_call(self: WebClient, api_method: str, **kwargs: Any) -> Any:
        from infra.local.lambda_runtime import current
        from infra.local.sink import INPUT_HEADER

        running = current()
        if running is not None:
            kwargs["headers"] = {**(kwargs.get("headers") or {}), INPUT_HEADER: running.input_id}
        return original_call(self, api_method, **kwargs)

    WebClient.api_call = api_call  # type: ignore[method-assign,assignment]


def uninstall() -> None:
    """Undo ``install``."""
    from slack_sdk.webhook import WebhookClient

    original = _installed.pop("init", None)
    if original is not None:
        WebhookClient.__init__ = original  # type: ignore[method-assign]
    send = _installed.pop("send_dict", None)
    if send is not None:
        WebhookClient.send_dict = send  # type: ignore[method-assign]
    call = _installed.pop("api_call", None)
    if call is not None:
        from slack_sdk import WebClient

        WebClient.api_call = call  # type: ignore[method-assign]
