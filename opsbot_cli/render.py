"""Human output: tables, key/value blocks and one-line summaries of API answers."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, TextIO


def dump_json(body: Any, out: TextIO) -> None:
    """The API's JSON, as it answered it, and nothing else."""
    out.write(json.dumps(body, indent=2, sort_keys=False) + "\n")


def short(value: Any, width: int = 60) -> str:
    """A cell: ``-`` for nothing, one line, at most ``width`` characters."""
    if value is None or value == "":
        return "-"
    text = " ".join(str(value).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def table(rows: Iterable[Sequence[Any]], headers: Sequence[str], out: TextIO) -> None:
    """Left-aligned columns, two spaces apart."""
    cells = [[short(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    for row in [list(headers), *cells]:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")
    if not cells:
        out.write("(none)\n")


def pairs(items: Sequence[tuple[str, Any]], out: TextIO) -> None:
    """``key  value`` lines, keys aligned."""
    width = max((len(k) for k, _ in items), default=0)
    for key, value in items:
        out.write(f"{key.ljust(width)}  {short(value, 200)}\n")


def revision(arn: str | None) -> str:
    """``web:2`` from a task definition ARN."""
    return arn.rsplit("/", 1)[-1] if arn else "-"


def tag(image: str | None) -> str:
    """What a person calls an image: its tag (``2.0``), else its short digest."""
    if not image:
        return "-"
    if "@sha256:" in image:
        return "sha256:" + image.split("@sha256:", 1)[1][:12]
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else last


def clock(at: str | None) -> str:
    """``17:23:40`` from an API timestamp (UTC)."""
    if not at or "T" not in at:
        return "--:--:--"
    return at.split("T", 1)[1][:8]


def event_line(event: dict[str, Any]) -> str:
    """One event of a deployment, as ``--wait`` prints it."""
    status = str(event.get("status", ""))
    return f"{clock(event.get('at'))}  {status:<17}  {event.get('message', '')}"


def deployment_head(d: dict[str, Any]) -> str:
    """``dep-...: web 2.0 in demo, queued``."""
    return (
        f"{d.get('id')}: {d.get('service')} {tag(d.get('image'))} in {d.get('environment')}, "
        f"{d.get('status')}"
    )


def service(s: dict[str, Any], out: TextIO) -> None:
    """One service's status."""
    items: list[tuple[str, Any]] = [
        ("service", f"{s.get('environment')}/{s.get('service')}"),
        ("image", s.get("image")),
        ("task definition", revision(s.get("task_definition"))),
        ("desired", s.get("desired")),
        ("running", s.get("running")),
        ("bounds", f"{s.get('min')}..{s.get('max')} ({s.get('bounds_from', 'policy')})"),
        ("busy with", s.get("busy_with")),
    ]
    pairs(items, out)
    rollouts = s.get("deployments") or []
    if rollouts:
        out.write("ECS deployments:\n")
        table(
            [
                (
                    r.get("id"),
                    r.get("status"),
                    r.get("rollout_state"),
                    revision(r.get("task_definition")),
                    f"{r.get('running')}/{r.get('desired')}",
                )
                for r in rollouts
            ],
            ["ID", "STATUS", "ROLLOUT", "REVISION", "RUNNING"],
            out,
        )


def services(items: list[dict[str, Any]], out: TextIO) -> None:
    """Several services, one line each."""
    table(
        [
            (
                s.get("service"),
                tag(s.get("image")),
                revision(s.get("task_definition")),
                s.get("desired"),
                s.get("running"),
                f"{s.get('min')}..{s.get('max')}",
                s.get("busy_with"),
            )
            for s in items
        ],
        ["SERVICE", "IMAGE", "REVISION", "DESIRED", "RUNNING", "BOUNDS", "BUSY"],
        out,
    )


def _details(item: dict[str, Any]) -> str:
    parts = []
    if item.get("before") is not None or item.get("after") is not None:
        parts.append(f"{item.get('before')} -> {item.get('after')}")
    if item.get("deployment_id"):
        parts.append(str(item["deployment_id"]))
    if item.get("reason"):
        parts.append(str(item["reason"]))
    return "; ".join(parts)


def audit(items: list[dict[str, Any]], out: TextIO) -> None:
    """Audit entries, newest first."""
    table(
        [
            (
                i.get("at", "")[:19].replace("T", " "),
                i.get("actor"),
                i.get("action"),
                i.get("target"),
                i.get("result"),
                _details(i),
            )
            for i in items
        ],
        ["AT (UTC)", "ACTOR", "ACTION", "TARGET", "RESULT", "DETAILS"],
        out,
    )


def took(d: dict[str, Any]) -> str | None:
    """How long a deployment took, as the API says (``duration_seconds``): ``4 s``,
    ``3 min 5 s``; None until it has ended."""
    seconds = d.get("duration_seconds")
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        return None
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


_DECIDED = (("approved_by", "approved"), ("denied_by", "denied"))


def deployment_note(d: dict[str, Any]) -> str:
    """What a deployment waits for, or who decided it, and what to run next."""
    ident, status = d.get("id"), d.get("status")
    if status == "awaiting_approval":
        return (
            f"awaits approval until {clock(d.get('expires_at'))} UTC: another person who may "
            f"approve in {d.get('environment')} runs `opsbot approve {ident}` "
            f"(or `opsbot deny {ident}`); nothing changes in ECS meanwhile"
        )
    if status == "denied":
        return f"denied by {d.get('denied_by') or '-'}; nothing was deployed"
    decided = f"approved by {d.get('approved_by')}; " if d.get("approved_by") else ""
    listed = f"`opsbot history {d.get('service')} --env {d.get('environment')}`"
    return f"({decided}--wait follows it to its end; {listed} lists it)"


def _deployment_details(d: dict[str, Any]) -> str:
    """Who decided it, what it rolls back, why it failed (or was asked for)."""
    parts = [f"{word} by {d[key]}" for key, word in _DECIDED if d.get(key)]
    if d.get("rollback_of"):
        parts.append(f"rolls back {d['rollback_of']}")
    parts += [str(d[key]) for key in ("failure_reason", "reason") if d.get(key)]
    return "; ".join(parts)


def deployments(items: list[dict[str, Any]], out: TextIO) -> None:
    """A service's deploys and rollbacks (``GET /deployments``), newest first. DURATION runs
    from the request to its end (the API's ``duration_seconds``)."""
    table(
        [
            (
                str(d.get("created_at", ""))[:19].replace("T", " "),
                d.get("id"),
                "rollback" if d.get("rollback_of") else "deploy",
                d.get("status"),
                tag(d.get("image")),
                d.get("requested_by") or d.get("actor"),
                took(d) or "-",
                _deployment_details(d),
            )
            for d in items
        ],
        ["CREATED (UTC)", "DEPLOYMENT", "WHAT", "STATUS", "IMAGE", "BY", "DURATION", "DETAILS"],
        out,
    )


def certificates(items: list[dict[str, Any]], out: TextIO) -> None:
    """An environment's certificates, soonest expiry first."""
    table(
        [
            (
                c.get("domain"),
                c.get("status"),
                str(c.get("not_after") or "")[:10],
                c.get("days_left"),
                ", ".join(c.get("listeners") or []),
                str(c.get("arn") or "").rsplit("/", 1)[-1],
            )
            for c in items
        ],
        ["DOMAIN", "STATUS", "EXPIRES", "DAYS LEFT", "LISTENERS", "CERTIFICATE"],
        out,
    )


def _money(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else "-"


def budgets(items: list[dict[str, Any]], out: TextIO) -> None:
    """An account's budgets: limit, actual and forecast spend."""
    table(
        [
            (
                b.get("name"),
                b.get("type"),
                b.get("time_unit"),
                f"{_money(b.get('limit'))} {b.get('unit') or ''}".strip(),
                _money(b.get("actual")),
                _money(b.get("forecast")),
                f"{b['percent_used']:.0f}%" if b.get("percent_used") is not None else "-",
            )
            for b in items
        ],
        ["BUDGET", "TYPE", "PERIOD", "LIMIT", "ACTUAL", "FORECAST", "USED"],
        out,
    )


def dry_run(plan: dict[str, Any]) -> str:
    """A dry run's answer: the image change, the task-definition diff, the checks, the outcome."""
    current, requested = plan.get("current") or {}, plan.get("requested") or {}
    where = f"{plan.get('environment')}/{plan.get('service')}"
    source = f" (promoted from {plan['from_environment']})" if plan.get("from_environment") else ""
    lines = [
        f"dry run: {where}: {plan.get('outcome', '?').replace('_', ' ')}; nothing was changed",
        f"  image     {current.get('tag') or current.get('image') or '-'} -> "
        f"{requested.get('tag') or requested.get('image') or '-'}{source}",
        f"  digest    {_short(current.get('digest'))} -> {_short(requested.get('digest'))}",
    ]
    diff = plan.get("task_definition_diff") or []
    lines.append(f"  changes   {len(diff)}" if diff else "  changes   none")
    lines += [f"    {d.get('path')}: {d.get('from')} -> {d.get('to')}" for d in diff]
    lines.append("  checks")
    for check in plan.get("checks") or []:
        result = str(check.get("result", "?"))
        lines.append(f"    {result:<7} {check.get('name')}: {check.get('detail')}")
    return "\n".join(lines) + "\n"


def _short(digest: Any) -> str:
    return str(digest)[:19] if digest else "-"
