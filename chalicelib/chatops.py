"""Slack: slash commands and interactive buttons, checked against the ops policy.

Every request must carry a valid Slack signature no older than five minutes (slack_sdk's
SignatureVerifier); a forged or stale one is refused with 401 before anything is read. Commands
answer at once (Slack's three-second limit): reads are answered in the reply, actions are
recorded and queued, and their outcome is posted later to the channel and the ``response_url``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict, ValidationError

from chalicelib.core.errors import Forbidden, InvalidRequest, OpsError, Unauthorized
from chalicelib.domain.policy import Permission

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.domain.policy import Environment

HELP = """*opsbot* commands (the environment is optional; default `{default}`):
• `deploy SERVICE TAG|IMAGE [ENV]`: deploy an ECR tag or an image
• `rollback DEPLOYMENT_ID`: put the service back on what it ran before
• `scale SERVICE COUNT [ENV]`: set the desired count, inside the bounds
• `status SERVICE [ENV]`: what ECS runs now
• `history SERVICE [ENV]`: the last actions on a service
• `certificates [ENV]`, `budget [ENV]`: certificate expiry, spend against budgets"""


def verify(*, secret: str | None, body: bytes, headers: dict[str, str], now: float) -> None:
    """Raise Unauthorized unless Slack signed this body in the last five minutes."""
    from slack_sdk.signature import Clock, SignatureVerifier

    if not secret:
        raise Unauthorized("Slack signing secret is not configured")

    class _At(Clock):
        def now(self) -> float:
            return now

    lowered = {k.lower(): v for k, v in headers.items()}
    timestamp = lowered.get("x-slack-request-timestamp", "")
    if not timestamp.isdigit():
        raise Unauthorized("missing or malformed X-Slack-Request-Timestamp")
    if abs(now - int(timestamp)) > 300:
        raise Unauthorized("stale Slack request (timestamp more than 5 minutes off)")
    if not SignatureVerifier(secret, clock=_At()).is_valid(
        body=body, timestamp=timestamp, signature=lowered.get("x-slack-signature")
    ):
        raise Unauthorized("invalid Slack signature")


@dataclass(frozen=True)
class SlashCommand:
    """The fields of a slash command opsbot uses."""

    user_id: str
    command: str
    text: str
    response_url: str | None
    channel_id: str | None = None

    @classmethod
    def parse(cls, body: bytes) -> SlashCommand:
        """From the form-encoded body Slack posts."""
        fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        if not fields.get("user_id"):
            raise InvalidRequest("not a Slack slash command", fields={"user_id": "missing"})
        return cls(
            user_id=fields["user_id"],
            command=fields.get("command", "/opsbot"),
            text=fields.get("text", "").strip(),
            response_url=fields.get("response_url"),
            channel_id=fields.get("channel_id"),
        )


def reply(text: str, *, public: bool = False, error: OpsError | None = None) -> dict[str, Any]:
    """A slash-command reply (ephemeral unless ``public``)."""
    body: dict[str, Any] = {"response_type": "in_channel" if public else "ephemeral", "text": text}
    if error is not None:
        body["error"] = error.to_body()["error"]
    return body


def _principal(deps: Deps, user_id: str) -> str:
    who = deps.policy.person_for_slack_user(user_id)
    if who is None:
        raise Forbidden(f"Slack user {user_id} is not in the opsbot policy", slack_user=user_id)
    return who


def _env_and_args(
    deps: Deps, args: list[str], needed: int, usage: str
) -> tuple[Environment, list[str]]:
    if len(args) == needed + 1:  # the last word names the environment
        return deps.policy.environment(args[-1]), args[:-1]
    if len(args) < needed or len(args) > needed:
        raise InvalidRequest(f"usage: {usage}", fields={"text": usage})
    default = deps.policy.slack.default_environment
    if default is None:
        raise InvalidRequest(f"name the environment: {usage}", fields={"text": usage})
    return deps.policy.environments[default], args


def handle_command(deps: Deps, command: SlashCommand) -> dict[str, Any]:
    """Answer one slash command (the reply body Slack shows)."""
    words = command.text.split()
    verb = words[0].lower() if words else "help"
    handler = _COMMANDS.get(verb)
    if handler is None:
        return reply(
            f"I don't know `{verb[:40]}`.\n" + _help(deps),
            error=InvalidRequest(f"unknown command {verb}"),
        )
    if verb == "help":
        return reply(_help(deps))
    try:
        actor = _principal(deps, command.user_id)
        return handler(deps, actor, command, words[1:])
    except OpsError as exc:
        return reply(f":no_entry: {exc.message}", error=exc)


def _help(deps: Deps) -> str:
    return HELP.format(default=deps.policy.slack.default_environment or "none")


def _deploy(deps: Deps, actor: str, command: SlashCommand, args: list[str]) -> dict[str, Any]:
    from chalicelib import deploys
    from chalicelib.domain.messages import DeployRequest

    env, (service, what) = _env_and_args(deps, args, 2, "deploy SERVICE TAG|IMAGE [ENV]")
    is_image = "/" in what or "@" in what
    request = DeployRequest(
        environment=env.name, service=service, **({"image": what} if is_image else {"tag": what})
    )
    record = deploys.request_deploy(
        deps, actor=actor, request=request, notify_url=command.response_url
    )
    return reply(
        f"<@{command.user_id}> is deploying `{record.image}` to {env.name}/{service} "
        f"(`{record.id}`). I'll post here when it is done.",
        public=True,
    )


def _rollback(deps: Deps, actor: str, command: SlashCommand, args: list[str]) -> dict[str, Any]:
    from chalicelib import deploys

    if len(args) != 1:
        raise InvalidRequest(
            "usage: rollback DEPLOYMENT_ID", fields={"text": "rollback DEPLOYMENT_ID"}
        )
    record = deploys.request_rollback(
        deps,
        actor=actor,
        deployment_id=args[0],
        reason="from Slack",
        notify_url=command.response_url,
    )
    return reply(
        f"<@{command.user_id}> is rolling back `{args[0]}` on "
        f"{record.target.label} (`{record.id}`).",
        public=True,
    )


def _scale(deps: Deps, actor: str, command: SlashCommand, args: list[str]) -> dict[str, Any]:
    from chalicelib import scaling

    env, (service, count) = _env_and_args(deps, args, 2, "scale SERVICE COUNT [ENV]")
    if not count.isdigit():
        raise InvalidRequest(
            f"COUNT must be a whole number, not {count!r}", fields={"desired": count}
        )
    result = scaling.manual_scale(
        deps,
        actor=actor,
        environment=env.name,
        service=service,
        desired=int(count),
        reason=f"Slack {command.user_id}",
    )
    if not result.changed:
        return reply(f"{env.name}/{service} already wants {count} tasks; nothing changed.")
    return reply(
        f"<@{command.user_id}> scaled {env.name}/{service}: {result.previous} -> "
        f"{result.desired} (bounds {result.bounds.min}..{result.bounds.max}).",
        public=True,
    )


def _status(deps: Deps, actor: str, command: SlashCommand, args: list[str]) -> dict[str, Any]:
    from chalicelib import status

    env, (service,) = _env_and_args(deps, args, 1, "status SERVICE [ENV]")
    s = status.service_status(deps, actor=actor, environment=env.name, service=service)
    rollout = ", ".join(
        f"{d['status'].lower()} {d['rollout_state'] or ''}".strip() for d in s["deployments"]
    )
    busy = f"\nBusy with `{s['busy_with']}`." if s["busy_with"] else ""
    return reply(
        f"*{env.name}/{service}*: {s['running']}/{s['desired']} running "
        f"(bounds {s['min']}..{s['max']}), image `{s['image']}`, "
        f"task definition `{s['task_definition'].rsplit('/', 1)[-1]}`; "
        f"deployments: {rollout}.{busy}"
    )


def _history(deps: Deps, actor: str, command: SlashCommand, args: list[str]) -> dict[str, Any]:
    from chalicelib import status

    env, (service,) = _env_and_args(deps, args, 1, "history SERVICE [ENV]")
    env.service(service)
    items = status.audit(deps, actor=actor, environment=env.name, service=service, limit="10")
    if not items:
        return reply(f"No recorded actions on {env.name}/{service} yet.")
    lines = [
        f"• {i['at'][:19]}Z {i['action']} by {i['actor']}: *{i['result']}*"
        + (f" ({i['deployment_id']})" if i.get("deployment_id") else "")
        for i in items
    ]
    return reply(f"*{env.name}/{service}*, newest first:\n" + "\n".join(lines))


def _read_env(deps: Deps, actor: str, args: list[str], usage: str) -> Environment:
    if len(args) > 1:
        raise InvalidRequest(f"usage: {usage}", fields={"text": usage})
    name = args[0] if args else deps.policy.slack.default_environment
    if name is None:
        raise InvalidRequest(f"name the environment: {usage}", fields={"text": usage})
    env = deps.policy.environment(name)
    deps.policy.require(actor, env.name, Permission.READ)
    return env


def _certificates(deps: Deps, actor: str, command: SlashCommand, args: list[str]) -> dict[str, Any]:
    from chalicelib import inventory

    env = _read_env(deps, actor, args, "certificates [ENV]")
    certs = inventory.certificates(deps, env)
    if not certs:
        return reply(f"No ACM certificates in {env.name}.")
    from chalicelib.certificates import listener_certificates

    served, _ = listener_certificates(deps, env) if env.load_balancers else ({}, [])

    def where(arn: str) -> str:
        usages = served.get(arn)
        return "served on " + ", ".join(u.label for u in usages) if usages else "not served"

    lines = [
        f"• `{c['domain']}`: {c['status']}, expires {str(c['not_after'])[:10]} "
        f"(*{c['days_left']} days*), {where(c['arn'])}"
        for c in certs
    ]
    return reply(f"*Certificates in {env.name}*, soonest first:\n" + "\n".join(lines))


def _budget(deps: Deps, actor: str, command: SlashCommand, args: list[str]) -> dict[str, Any]:
    from chalicelib import budgets

    env = _read_env(deps, actor, args, "budget [ENV]")
    found = budgets.account_budgets(deps, env)
    if not found:
        return reply(f"No budgets in {env.name}.")
    lines = [
        f"• `{b.name}`: {b.actual:g} of {b.limit:g} {b.unit} "
        f"(*{b.percent_used}%*), forecast {b.forecast if b.forecast is not None else '?'}"
        for b in found
    ]
    return reply(f"*Budgets in {env.name}*:\n" + "\n".join(lines))


_COMMANDS: dict[str, Callable[[Deps, str, SlashCommand, list[str]], dict[str, Any]]] = {
    "help": lambda deps, *_: reply(_help(deps)),
    "deploy": _deploy,
    "rollback": _rollback,
    "scale": _scale,
    "status": _status,
    "history": _history,
    "certificates": _certificates,
    "certs": _certificates,
    "budget": _budget,
    "budgets": _budget,
}


def handle_interaction(deps: Deps, body: bytes) -> dict[str, Any]:
    """A button press (block_actions): act, then answer through the response_url."""
    fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    interaction = _interaction(fields.get("payload", ""))
    response_url = interaction.response_url
    results = [
        _button(deps, interaction.user.id, a.action_id, a.value, response_url)
        for a in interaction.actions
    ]
    if response_url and results:
        text = "\n".join(results)
        deps.notifier.post_slack(
            {"response_type": "ephemeral", "replace_original": False, "text": text},
            url=response_url,
        )
    return {"results": results}


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


class SlackUser(_Loose):
    """``user`` of an interaction payload."""

    id: str


class SlackAction(_Loose):
    """One element of ``actions``: which button, with which value."""

    action_id: str
    value: str = ""


class Interaction(_Loose):
    """The parts of a ``block_actions`` payload opsbot uses."""

    user: SlackUser
    actions: list[SlackAction] = []
    response_url: str | None = None


def _interaction(raw: str) -> Interaction:
    """Parse the ``payload`` field; InvalidRequest if it is not a block_actions payload."""
    try:
        return Interaction.model_validate_json(raw)
    except (ValidationError, ValueError, RecursionError):
        raise InvalidRequest(
            "not a Slack interaction payload", fields={"payload": "not a block_actions payload"}
        ) from None


def _button(deps: Deps, user: str, action_id: str, value: str, response_url: str | None) -> str:
    from chalicelib import deploys

    try:
        actor = _principal(deps, user)
        if action_id == "rollback":
            record = deploys.request_rollback(
                deps,
                actor=actor,
                deployment_id=value,
                reason="Slack button",
                notify_url=response_url,
            )
            return f"<@{user}> is rolling back `{value}` (`{record.id}`)."
        return f"Unknown button `{action_id}`."
    except OpsError as exc:
        return f":no_entry: {exc.message}"
