"""``opsbot changes SERVICE [--env ENV] [--since 90m]``: what changed on a service.

One GET of ``/services/{env}/{service}/changes``; ``--output json`` prints its answer as it came.
"""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING, Any

from opsbot_cli import render
from opsbot_cli.client import Api, path
from opsbot_cli.exits import Exit

if TYPE_CHECKING:
    from opsbot_cli.main import Io

MAX_MINUTES = 1440
_SINCE = re.compile(r"^(?P<n>\d{1,5})(?P<unit>[mh]?)$")


def since_minutes(text: str) -> int:
    """``90m``, ``2h`` or ``45`` (minutes) as minutes, from 1 to 1,440 (argparse's type)."""
    match = _SINCE.match(text.strip().lower())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r}: say 90m, 2h or 45 (minutes)")
    minutes = int(match["n"]) * (60 if match["unit"] == "h" else 1)
    if not 1 <= minutes <= MAX_MINUTES:
        raise argparse.ArgumentTypeError(f"{text!r}: from 1 minute to 24h")
    return minutes


def lines(answer: dict[str, Any]) -> list[tuple[str, ...]]:
    """Table rows: time, source, who, what (with the deployment id)."""
    rows: list[tuple[str, ...]] = []
    for item in answer.get("items") or []:
        what = " ".join(str(item.get("what", "")).split())
        deployment = item.get("deployment_id")
        if deployment and deployment not in what:
            what += f" ({deployment})"
        rows.append(
            (render.clock(item.get("at")), str(item.get("source")), str(item.get("actor")), what)
        )
    return rows


def cmd_changes(api: Api, io: Io, args: argparse.Namespace) -> int:
    """GET /services/{env}/{service}/changes?since_minutes=."""
    answer = api.get(
        path("services", args.env, args.service, "changes"), {"since_minutes": args.since}
    ).body
    if io.json:
        render.dump_json(answer, io.out)
        return Exit.OK
    io.out.write(
        f"{answer.get('environment', args.env)}/{args.service}: changes of the last "
        f"{args.since} min, newest first\n"
    )
    rows = lines(answer)
    widths = [8, 10, max([len(r[2]) for r in rows] or [5])]
    for row in rows:  # the whole line: what a change was is the point
        io.out.write("  ".join(c.ljust(w) for c, w in zip(row[:3], widths, strict=True)))
        io.out.write(f"  {row[3]}\n")
    if not rows:
        io.out.write("nothing changed\n")
    for note in answer.get("notes") or []:
        io.out.write(f"not included: {note}\n")
    return Exit.OK


def add_parser(sub: Any, *, common: Any, env: Any) -> None:
    """The ``changes`` subparser."""
    p = sub.add_parser("changes", parents=[common, env], help="what changed on a service")
    p.add_argument("service")
    p.add_argument(
        "--since",
        type=since_minutes,
        default=60,
        metavar="WHEN",
        help="how far back: 90m, 2h or 45 (minutes); default 60m, at most 24h",
    )
    p.set_defaults(run=cmd_changes)
