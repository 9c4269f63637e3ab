"""``/opsbot deploy`` with its options: ``--dry-run`` (answer what it would do, ephemeral, change
nothing) and ``--from ENV`` (promote: the digest the service runs in ENV now)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from chalicelib.aws.notifier import Message
from chalicelib.chatops.parse import deploy_request, env_and_args
from chalicelib.core.errors import InvalidRequest
from chalicelib.deploys.diff import change_lines
from chalicelib.deploys.notice import short_image
from chalicelib.domain.messages import DeployRequest

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.status.dry_run import DryRun

USAGE = "deploy SERVICE TAG|IMAGE [ENV] [--dry-run] | deploy SERVICE --from ENV [ENV] [--dry-run]"
DRY_RUN_FLAG = "--dry-run"
FROM_FLAG = "--from"


def deploy_command(deps: Deps, actor: str, args: list[str]) -> DeployRequest:
    """The deploy a ``/opsbot deploy`` command asks for (options anywhere after the verb)."""
    words = [w for w in args if w.lower() != DRY_RUN_FLAG]
    dry = len(words) != len(args)
    source = None
    if any(w.lower() == FROM_FLAG for w in words):
        at = next(i for i, w in enumerate(words) if w.lower() == FROM_FLAG)
        if at + 1 >= len(words):
            raise InvalidRequest(
                f"--from needs an environment; usage: {USAGE}", fields={"text": USAGE}
            )
        source = words[at + 1]
        words = words[:at] + words[at + 2 :]
    if source is None:
        env, (service, what) = env_and_args(deps, words, 2, USAGE, actor=actor)
        request = deploy_request(env.name, service, what, USAGE)
        return request.model_copy(update={"dry_run": dry})
    env, (service,) = env_and_args(deps, words, 1, USAGE, actor=actor)
    try:
        return DeployRequest.model_validate(
            {
                "environment": env.name,
                "service": service,
                "from_environment": source,
                "dry_run": dry,
            }
        )
    except ValidationError as exc:
        bad = sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]}) or ["from_environment"]
        raise InvalidRequest(
            f"{', '.join(bad)} is not valid; usage: {USAGE}",
            fields={**{b: "invalid" for b in bad}, "text": USAGE},
        ) from None


_ICON = {"pass": "ok", "fail": "FAIL", "warn": "warn", "needed": "needed"}
_SAID = {
    "would_queue": "would be queued and rolled out",
    "would_await_approval": "would wait for approval",
    "would_be_rejected": "would be rejected (400)",
    "would_conflict": "would be refused: the service is busy (409)",
    "would_fail": "would be accepted, then fail at its start",
}


def dry_run_message(result: DryRun) -> Message:
    """The same as a message (Slack blocks through the one renderer)."""
    current, wanted = result.current, result.requested
    facts: list[tuple[str, str]] = [
        ("Image", f"{short_image(current.image)} -> {short_image(wanted.image)}"),
        ("Current", f"tag {current.tag or '?'}, digest {current.digest or '?'}"),
        ("Requested", f"tag {wanted.tag or '?'}, digest {wanted.digest or '?'}"),
    ]
    if result.from_environment:
        facts.append(("Promoted from", f"{result.from_environment} (the digest it runs now)"))
    lines = change_lines(result.changes, short=short_image) or ["none"]
    facts.append(("Task definition changes", "\n".join(lines)))
    facts += [(f"Check {c.name}", f"{_ICON[str(c.result)]}: {c.detail}") for c in result.checks]
    title = f"Dry run: deploy {result.service} to {result.environment}"
    return Message(
        title=title,
        text=f"This deploy {_SAID[str(result.outcome)]}. Nothing was changed.",
        level="info",
        facts=tuple(facts),
        summary=f"{title}: {_SAID[str(result.outcome)]}",
    )


def dry_run_reply(result: DryRun) -> dict[str, Any]:
    """The ephemeral reply to ``--dry-run``: Block Kit, through the one renderer."""
    return {"response_type": "ephemeral", **dry_run_message(result).slack_payload()}
