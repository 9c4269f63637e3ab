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


def history(items: list[dict[str, Any]], out: TextIO) -> None:
    """A service's deploys and rollbacks, newest first."""
    table(
        [
            (
                i.get("at", "")[:19].replace("T", " "),
                i.get("deployment_id"),
                i.get("action"),
                i.get("result"),
                tag(i.get("image")),
                i.get("actor"),
            )
            for i in items
        ],
        ["AT (UTC)", "DEPLOYMENT", "ACTION", "RESULT", "IMAGE", "BY"],
        out,
    )
