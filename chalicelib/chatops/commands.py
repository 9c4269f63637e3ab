"""Slash commands: one function per verb, looked up in ``COMMANDS``.

Commands answer at once (Slack's three-second limit): reads are answered in the reply, actions
are recorded and queued, and their outcome is posted later to the channel and the
``response_url``. Every refusal is an ephemeral reply that carries the contract's error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib import budgets, deploys, scaling
from chalicelib.aws.ecs import short_task_definition
from chalicelib.certificates import listener_certificates
from chalicelib.certificates.inventory import certificate_list
from chalicelib.chatops.dashboard import dashboard_reply
from chalicelib.chatops.deploy import deploy_command, dry_run_reply
from chalicelib.chatops.freeze import freeze_command, unfreeze_command
from chalicelib.chatops.parse import (
    SlashCommand,
    check_command,
    count_arg,
    env_and_args,
    principal,
    read_env,
)
from chalicelib.core.errors import InvalidRequest, OpsError
from chalicelib.core.slack import escape
from chalicelib.records.status import DeploymentStatus
from chalicelib.status import audit, dry_run, services

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.records.audit import AuditEntry

HELP = """*opsbot* commands (the environment is optional; default `{default}`):
• `deploy SERVICE TAG|IMAGE [ENV] [--dry-run]`: deploy an ECR tag or image (--dry-run: a preview)
• `deploy SERVICE --from ENV [ENV] [--dry-run]`: promote the digest SERVICE runs in ENV now
• `rollback DEPLOYMENT_ID`: put the service back on what it ran before
• `scale SERVICE COUNT [ENV]`: set the desired count, inside the bounds
• `status SERVICE [ENV]`: what ECS runs now
• `history SERVICE [ENV]`: what was done to a service (deploys, scaling)
• `certificates [ENV]`, `budget [ENV]`: certificate expiry, spend against budgets
• `freeze ENV REASON`, `unfreeze ENV`: no deploys, rollbacks, scaling or alarm actions in ENV
• `dashboard`: a link to the web dashboard, signed in read-only for an hour"""

HISTORY_LENGTH = 10


def reply(text: str, *, public: bool = False, error: OpsError | None = None) -> dict[str, Any]:
    """A slash-command reply (ephemeral unless ``public``)."""
    body: dict[str, Any] = {"response_type": "in_channel" if public else "ephemeral", "text": text}
    if error is not None:
        body["error"] = error.to_body()["error"]
    return body


def help_text(deps: Deps) -> str:
    """The command list, naming the default environment."""
    return HELP.format(default=deps.policy.slack.default_environment or "none")


def _help(deps: Deps, actor: str, command: SlashCommand) -> dict[str, Any]:
    return reply(help_text(deps))


def _deploy(deps: Deps, actor: str, command: SlashCommand) -> dict[str, Any]:
    request = deploy_command(deps, actor, command.args)
    if request.dry_run:
        return dry_run_reply(dry_run.dry_run(deps, actor=actor, request=request))
    env, service = request.environment, request.service
    record = deploys.request_deploy(
        deps, actor=actor, request=request, notify_url=command.response_url
    )
    image = f"`{escape(record.image)}`"
    if record.from_environment:
        image += f" (what {record.from_environment} runs)"
    if record.status == DeploymentStatus.AWAITING_APPROVAL:
        return reply(
            f"<@{command.user_id}> asks to deploy {image} to "
            f"{env}/{service} (`{record.id}`): it awaits a second person's approval.",
            public=True,
        )
    return reply(
        f"<@{command.user_id}> is deploying {image} to {env}/{service} "
        f"(`{record.id}`). I'll post here when it is done.",
        public=True,
    )


def _rollback(deps: Deps, actor: str, command: SlashCommand) -> dict[str, Any]:
    if len(command.args) != 1:
        raise InvalidRequest(
            "usage: rollback DEPLOYMENT_ID", fields={"text": "rollback DEPLOYMENT_ID"}
        )
    (deployment_id,) = command.args
    record = deploys.request_rollback(
        deps,
        actor=actor,
        deployment_id=deployment_id,
        reason="from Slack",
        notify_url=command.response_url,
    )
    waits = record.status == DeploymentStatus.AWAITING_APPROVAL
    return reply(
        f"<@{command.user_id}> {'asks to roll' if waits else 'is rolling'} back "
        f"`{escape(deployment_id)}` on {record.target.label} (`{record.id}`)"
        f"{': it awaits approval' if waits else ''}.",
        public=True,
    )


def _scale(deps: Deps, actor: str, command: SlashCommand) -> dict[str, Any]:
    usage = "scale SERVICE COUNT [ENV]"
    env, (service, word) = env_and_args(deps, command.args, 2, usage, actor=actor)
    count = count_arg(word, usage)
    result = scaling.manual_scale(
        deps,
        actor=actor,
        environment=env.name,
        service=service,
        desired=count,
        reason=f"Slack {command.user_id}",
    )
    if not result.changed:
        return reply(f"{env.name}/{service} already wants {count} tasks; nothing changed.")
    return reply(
        f"<@{command.user_id}> scaled {env.name}/{service}: {result.previous} -> "
        f"{result.desired} (bounds {result.bounds.min}..{result.bounds.max}).",
        public=True,
    )


def _status(deps: Deps, actor: str, command: SlashCommand) -> dict[str, Any]:
    env, (service,) = env_and_args(deps, command.args, 1, "status SERVICE [ENV]", actor=actor)
    s = services.service_status(deps, actor=actor, environment=env.name, service=service)
    rollout = ", ".join(
        f"{str(d.status).lower()} {d.rollout_state or ''}".strip() for d in s.deployments
    )
    busy = f"\nBusy with `{s.busy_with}`." if s.busy_with else ""
    return reply(
        f"*{env.name}/{service}*: {s.running}/{s.desired} running "
        f"(bounds {s.min}..{s.max}), image `{s.image}`, "
        f"task definition `{short_task_definition(s.task_definition)}`; "
        f"deployments: {rollout}.{busy}"
    )


def history_line(entry: AuditEntry) -> str:
    """One thing done, for ``/opsbot history``: when, what (a deploy's status and image, a
    scaling's direction and counts), who."""
    when = f"{entry.stamp[:10]} {entry.stamp[11:16]}Z"
    what = f"{entry.action} *{entry.result}*"
    if entry.before is not None and entry.after is not None:
        direction = "out" if entry.after > entry.before else "in"
        what = f"scaled {direction} {entry.before} -> {entry.after}"
    elif entry.image:
        what += f" `{escape(entry.image.rsplit('/', 1)[-1])}`"
    line = f"• {when} {what} by {escape(entry.actor)}"
    return line + (f" (`{escape(entry.deployment_id)}`)" if entry.deployment_id else "")


def _history(deps: Deps, actor: str, command: SlashCommand) -> dict[str, Any]:
    env, (service,) = env_and_args(deps, command.args, 1, "history SERVICE [ENV]", actor=actor)
    entries = audit.history(
        deps, actor=actor, environment=env.name, service=service, limit=HISTORY_LENGTH
    )
    if not entries:
        return reply(f"Nothing done to {env.name}/{service} yet.")
    lines = [history_line(e) for e in entries]
    return reply(
        f"*{env.name}/{service}*, newest first (refused requests are in the audit):\n"
        + "\n".join(lines)
    )


def _certificates(deps: Deps, actor: str, command: SlashCommand) -> dict[str, Any]:
    env = read_env(deps, actor, command.args, "certificates [ENV]")
    certs = certificate_list(deps, env)
    if not certs:
        return reply(f"No ACM certificates in {env.name}.")
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


def _budget(deps: Deps, actor: str, command: SlashCommand) -> dict[str, Any]:
    env = read_env(deps, actor, command.args, "budget [ENV]")
    found = budgets.account_budgets(deps, env)
    if not found:
        return reply(f"No budgets in {env.name}.")
    lines = [
        f"• `{b.name}`: {b.actual:g} of {b.limit:g} {b.unit} "
        f"(*{b.percent_used}%*), forecast {b.forecast if b.forecast is not None else '?'}"
        for b in found
    ]
    return reply(f"*Budgets in {env.name}*:\n" + "\n".join(lines))


@dataclass(frozen=True)
class Command:
    """One verb: what runs it, and whether the sender must be a person in the policy."""

    run: Callable[[Deps, str, SlashCommand], dict[str, Any]]
    needs_person: bool = True


COMMANDS: dict[str, Command] = {
    "help": Command(_help, needs_person=False),
    "deploy": Command(_deploy),
    "rollback": Command(_rollback),
    "scale": Command(_scale),
    "status": Command(_status),
    "history": Command(_history),
    "certificates": Command(_certificates),
    "certs": Command(_certificates),
    "budget": Command(_budget),
    "budgets": Command(_budget),
    "dashboard": Command(dashboard_reply),
    "freeze": Command(freeze_command),
    "unfreeze": Command(unfreeze_command),
}


def handle_command(deps: Deps, command: SlashCommand) -> dict[str, Any]:
    """Answer one slash command (the reply body Slack shows); a refusal names what was wrong
    (and the usage, for bad arguments)."""
    try:
        check_command(deps, command)
    except OpsError as exc:
        return reply(f":no_entry: {escape(exc.message)}", error=exc)
    verb = command.verb
    entry = COMMANDS.get(verb)
    if entry is None:
        return reply(
            f"I don't know `{escape(verb[:40])}`.\n" + help_text(deps),
            error=InvalidRequest(f"unknown command {verb[:40]}", fields={"text": "help"}),
        )
    try:
        actor = principal(deps, command.user_id) if entry.needs_person else ""
        return entry.run(deps, actor, command)
    except OpsError as exc:
        return reply(f":no_entry: {escape(exc.message)}", error=exc)
