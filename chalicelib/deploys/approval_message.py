"""The Slack (Block Kit) and email shapes of an approval: the request with its Approve and Deny
buttons, and the same message once decided (or expired), buttons gone."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalicelib.aws.notifier import Message
from chalicelib.core.slack import escape
from chalicelib.deploys.diff import change_lines
from chalicelib.deploys.revision import split_image

if TYPE_CHECKING:
    from chalicelib.records.deployment import Deployment

APPROVE = "approve"  # the buttons' action_id (chatops.interactions.BUTTONS)
DENY = "deny"

# How a principal shows in Slack: their policy name, with a mention when they have a Slack id.
Who = Callable[[str], str]


def _short(image: str) -> str:
    """``web:1.0`` for ``123456789012.dkr.ecr.../web:1.0`` (the repository's last segment)."""
    return image.rsplit("/", 1)[-1]


def _image_facts(deployment: Deployment) -> list[tuple[str, str]]:
    _, _, digest = split_image(deployment.image)
    return [
        ("Current image", _short(deployment.current_image or "unknown")),
        ("Requested image", _short(deployment.image)),
        ("Requested digest", deployment.image_digest or digest or "not resolved"),
    ]


def _source_and_changes(deployment: Deployment) -> list[tuple[str, str]]:
    """Where a promoted image comes from, and the task-definition fields that change."""
    shown: list[tuple[str, str]] = []
    if deployment.from_environment:
        shown.append(("Promoted from", f"{deployment.from_environment} (the digest it runs)"))
    if deployment.changes is not None:
        lines = change_lines(deployment.changes, short=_short) or ["none"]
        shown.append(("Task definition changes", "\n".join(lines)))
    return shown


def facts(deployment: Deployment) -> list[tuple[str, str]]:
    """What an approver needs to know, in order (plain text)."""
    kind = f"rollback of {deployment.rollback_of}" if deployment.rollback_of else "deploy"
    return [
        ("Deployment", deployment.id),
        ("Action", kind),
        ("Requested by", deployment.requested_by or deployment.actor),
        ("Environment", deployment.environment),
        ("Service", deployment.service),
        *_image_facts(deployment),
        *_source_and_changes(deployment),
        ("Expires", deployment.approval_expires_at or "never"),
    ]


def title(deployment: Deployment) -> str:
    """``Approval needed: deploy web to prod``."""
    kind = "rollback" if deployment.rollback_of else "deploy"
    return f"Approval needed: {kind} {deployment.service} in {deployment.environment}"


def payload(
    deployment: Deployment, who: Who, outcome: str | None = None, plain: str | None = None
) -> dict[str, Any]:
    """The Block Kit message: with Approve / Deny buttons while undecided, else with
    ``outcome`` (mrkdwn, already escaped) in their place; ``plain`` is its notification text."""
    shown = dict(facts(deployment))
    requester, action = shown.pop("Requested by"), shown.pop("Action")
    fields = [
        {"type": "mrkdwn", "text": f"*{escape(k)}*\n{escape(v)}"}
        for k, v in shown.items()
        if k != "Deployment"
    ]
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f":lock: *Approval needed*: {who(requester)} asks for a "
                f"{escape(action)} (`{escape(deployment.id)}`)",
            },
        },
        {"type": "section", "fields": fields[:10]},
    ]
    if outcome is None:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"approval:{deployment.id}"[:255],
                "elements": [
                    _button("Approve", APPROVE, deployment.id, "primary"),
                    _button("Deny", DENY, deployment.id, "danger"),
                ],
            }
        )
        text = f"{title(deployment)} ({deployment.id}), asked by {requester}"
    else:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": outcome}]})
        text = f"{title(deployment)} ({deployment.id}): {plain or 'decided'}"
    return {"text": escape(text), "blocks": blocks}


def _button(label: str, action_id: str, value: str, style: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": value,
        "style": style,
    }


def email(deployment: Deployment, headline: str, text: str, level: str = "info") -> Message:
    """The plain-text (SNS email) form: the same facts."""
    return Message(
        title=f"{headline}: {deployment.target.label}",
        text=text,
        level=level,
        facts=tuple(facts(deployment)),
    )
