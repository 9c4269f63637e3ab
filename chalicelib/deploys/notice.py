"""What people are told about a deployment (Slack and email): one builder for every stage, no I/O.

The header says what happened to which service; the facts say each number once (images old ->
new, task definitions, who asked, how long, why it failed); the deployment id and the full
image reference are small print.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from chalicelib.aws.ecs import short_task_definition
from chalicelib.aws.notifier import Message
from chalicelib.core.clock import iso

if TYPE_CHECKING:
    from datetime import datetime

    from chalicelib.records.deployment import Deployment

DIGEST_SHOWN = 12  # hex digits of a digest people see (``web@sha256:8d97a1b2c3d4``)


def short_image(image: str | None) -> str:
    """An image without its registry, and its digest cut short: ``web:2.0``,
    ``web@sha256:8d97a1b2c3d4`` (``?`` when unknown)."""
    if not image:
        return "?"
    name, at, digest = image.partition("@")
    name = name.rsplit("/", 1)[-1]
    if at:
        algorithm, _, hexes = digest.partition(":")
        return f"{name}@{algorithm}:{hexes[:DIGEST_SHOWN]}"
    return name


def duration(seconds: float) -> str:
    """``42 s``, ``3 min 5 s``, ``1 h 2 min``."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _took(deployment: Deployment, now: datetime) -> str | None:
    """Its duration as every surface shows it: the record's, ended ``now``."""
    seconds = replace(deployment, finished_at=deployment.finished_at or iso(now)).duration_seconds
    return None if seconds is None else duration(seconds)


def deploy_message(
    deployment: Deployment,
    *,
    title: str,
    text: str,
    level: str,
    now: datetime | None = None,
    offer_rollback: bool = False,
) -> Message:
    """A deployment's notice: ``title`` (``Deploy succeeded: demo/web``), ``text`` (what the
    title and the facts do not say); ``now`` given once it has ended (its duration)."""
    new = short_image(deployment.image)
    old = short_image(deployment.previous_image) if deployment.previous_image else None
    facts: list[tuple[str, str]] = [("Image", f"{old} -> {new}" if old and old != new else new)]
    if deployment.from_environment:
        facts.append(("Promoted from", deployment.from_environment))
    if deployment.previous_task_definition or deployment.task_definition:
        facts.append(
            (
                "Task definition",
                f"{short_task_definition(deployment.previous_task_definition)} -> "
                f"{short_task_definition(deployment.task_definition)}",
            )
        )
    facts.append(("Asked by", deployment.actor))
    took = _took(deployment, now) if now is not None else None
    if took:
        facts.append(("Took", took))
    if deployment.failure_reason and deployment.failure_reason not in text:
        facts.append(("Failure reason", deployment.failure_reason))
    if deployment.reason:
        facts.append(("Reason", deployment.reason))
    small = [f"Deployment {deployment.id}"]
    if deployment.rollback_of:
        small[0] += f" (rolls back {deployment.rollback_of})"
    if deployment.image != new:
        small.append(f"Image {deployment.image}")
    summary = f"{title} ({new}, by {deployment.actor}" + (f", {took})" if took else ")")
    buttons = (("Roll back", "rollback", deployment.id),) if offer_rollback else ()
    return Message(
        title=title,
        text=text,
        level=level,
        facts=tuple(facts),
        buttons=buttons,
        context=tuple(small),
        summary=summary,
    )
