"""The read commands: ``status``, ``history``, ``audit``, ``certificates``, ``budgets``.

Each is one GET of the REST API; ``--output json`` prints its answer as it came.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from opsbot_cli import render
from opsbot_cli.client import Api, path
from opsbot_cli.exits import Exit

if TYPE_CHECKING:
    from opsbot_cli.main import Io

MAX_DEPLOYMENTS = 100  # GET /deployments answers at most this many per page
MAX_AUDIT = 500  # GET /audit: per page
MAX_SERVICES = 100  # GET /services/{env}: per page
MAX_PAGES = 1000  # a guard against an API that never stops answering `next`


def collect(
    api: Api, route: str, query: dict[str, Any], *, page: int, want: int | None = None
) -> dict[str, Any]:
    """Every page of a list route (or its first ``want`` items), following ``next``: the
    first answer with the items of all, and ``next`` only when more remain than were wanted."""
    answer: dict[str, Any] = {}
    items: list[Any] = []
    cursor = None
    for _ in range(MAX_PAGES):
        size = page if want is None else min(page, want - len(items))
        body = api.get(route, {**query, "limit": size, "next": cursor}).body
        answer = answer or dict(body)
        items += body.get("items") or []
        cursor = body.get("next")
        if cursor is None or (want is not None and len(items) >= want):
            break
    answer["items"] = items
    answer.pop("next", None)
    if cursor is not None:
        answer["next"] = cursor
    return answer


def _show(io: Io, answer: dict[str, Any], table: Any) -> int:
    """The API's JSON, or ``table(answer)`` for people."""
    if io.json:
        render.dump_json(answer, io.out)
    else:
        table(answer)
    return Exit.OK


def cmd_status(api: Api, io: Io, args: argparse.Namespace) -> int:
    """GET /services/{env}/{service}; without a service, GET /services/{env}, every page."""
    if args.service:
        answer = api.get(path("services", args.env, args.service)).body
        return _show(io, answer, lambda a: render.service(a, io.out))

    def table(answer: dict[str, Any]) -> None:
        io.out.write(f"environment {answer.get('environment', args.env)}\n")
        render.services(answer.get("items") or [], io.out)

    answer = collect(api, path("services", args.env), {}, page=MAX_SERVICES)
    return _show(io, answer, table)


def cmd_history(api: Api, io: Io, args: argparse.Namespace) -> int:
    """A service's deploys and rollbacks, newest first: GET /deployments?environment=&service=."""
    query = {"environment": args.env, "service": args.service}
    answer = collect(api, "/deployments", query, page=MAX_DEPLOYMENTS, want=args.limit)
    return _show(io, answer, lambda a: render.deployments(a.get("items") or [], io.out))


def cmd_audit(api: Api, io: Io, args: argparse.Namespace) -> int:
    """GET /audit."""
    query = {"environment": args.env, "service": args.service}
    answer = collect(api, "/audit", query, page=MAX_AUDIT, want=args.limit)
    return _show(io, answer, lambda a: render.audit(a.get("items") or [], io.out))


def cmd_certificates(api: Api, io: Io, args: argparse.Namespace) -> int:
    """GET /certificates?environment=: soonest expiry first, with the listeners serving each."""
    answer = api.get("/certificates", {"environment": args.env}).body

    def table(a: dict[str, Any]) -> None:
        io.out.write(f"environment {a.get('environment', args.env)}\n")
        render.certificates(a.get("items") or [], io.out)

    return _show(io, answer, table)


def cmd_budgets(api: Api, io: Io, args: argparse.Namespace) -> int:
    """GET /budgets?environment=: the AWS Budgets of the environment's account."""
    answer = api.get("/budgets", {"environment": args.env}).body

    def table(a: dict[str, Any]) -> None:
        io.out.write(f"environment {a.get('environment', args.env)}\n")
        render.budgets(a.get("items") or [], io.out)

    return _show(io, answer, table)


def add_parsers(sub: Any, *, common: Any, env: Any, limit: Any, default_limit: int) -> None:
    """The read commands' subparsers (``sub``: the top parser's subparsers)."""
    p = sub.add_parser("status", parents=[common, env], help="a service's status (or every one)")
    p.add_argument("service", nargs="?")
    p.set_defaults(run=cmd_status)
    p = sub.add_parser("history", parents=[common, env], help="a service's deployments")
    p.add_argument("service")
    p.add_argument(
        "--limit", type=limit, default=default_limit, help="show this many (1 to 500), newest first"
    )
    p.set_defaults(run=cmd_history)
    p = sub.add_parser("audit", parents=[common, env], help="the audit trail, newest first")
    p.add_argument("--service")
    p.add_argument(
        "--limit", type=limit, default=default_limit, help="show this many (1 to 500), newest first"
    )
    p.set_defaults(run=cmd_audit)
    p = sub.add_parser(
        "certificates", parents=[common, env], help="an environment's certificates and expiry"
    )
    p.set_defaults(run=cmd_certificates)
    p = sub.add_parser("budgets", parents=[common, env], help="an environment's AWS Budgets")
    p.set_defaults(run=cmd_budgets)
