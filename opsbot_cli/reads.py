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

MAX_DEPLOYMENTS = 100  # GET /deployments answers at most this many


def _show(io: Io, answer: dict[str, Any], table: Any) -> int:
    """The API's JSON, or ``table(answer)`` for people."""
    if io.json:
        render.dump_json(answer, io.out)
    else:
        table(answer)
    return Exit.OK


def cmd_status(api: Api, io: Io, args: argparse.Namespace) -> int:
    """GET /services/{env}/{service}; without a service, GET /services/{env} (every one)."""
    if args.service:
        answer = api.get(path("services", args.env, args.service)).body
        return _show(io, answer, lambda a: render.service(a, io.out))

    def table(answer: dict[str, Any]) -> None:
        io.out.write(f"environment {answer.get('environment', args.env)}\n")
        render.services(answer.get("items") or [], io.out)

    return _show(io, api.get(path("services", args.env)).body, table)


def cmd_history(api: Api, io: Io, args: argparse.Namespace) -> int:
    """A service's deploys and rollbacks, newest first: GET /deployments?environment=&service=."""
    query = {
        "environment": args.env,
        "service": args.service,
        "limit": min(MAX_DEPLOYMENTS, args.limit),
    }
    answer = api.get("/deployments", query).body
    return _show(io, answer, lambda a: render.deployments(a.get("items") or [], io.out))


def cmd_audit(api: Api, io: Io, args: argparse.Namespace) -> int:
    """GET /audit."""
    query = {"environment": args.env, "service": args.service, "limit": args.limit}
    answer = api.get("/audit", query).body
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
        "--limit", type=limit, default=default_limit, help=f"at most {MAX_DEPLOYMENTS} are shown"
    )
    p.set_defaults(run=cmd_history)
    p = sub.add_parser("audit", parents=[common, env], help="the audit trail, newest first")
    p.add_argument("--service")
    p.add_argument("--limit", type=limit, default=default_limit)
    p.set_defaults(run=cmd_audit)
    p = sub.add_parser(
        "certificates", parents=[common, env], help="an environment's certificates and expiry"
    )
    p.set_defaults(run=cmd_certificates)
    p = sub.add_parser("budgets", parents=[common, env], help="an environment's AWS Budgets")
    p.set_defaults(run=cmd_budgets)
