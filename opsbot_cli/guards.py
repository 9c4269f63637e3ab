"""``opsbot freeze ENV --reason TEXT`` and ``opsbot unfreeze ENV``: the environment-wide brake.

Exit 0 when the API answered 200 (the environment's freeze is then as asked); a refusal (403,
404, 400) is the CLI's usual ``API_ERROR``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from opsbot_cli import render
from opsbot_cli.client import Api, path
from opsbot_cli.exits import Exit

if TYPE_CHECKING:
    from opsbot_cli.main import Io


def _show(io: Io, answer: dict[str, Any]) -> int:
    if io.json:
        render.dump_json(answer, io.out)
        return Exit.OK
    env = answer.get("environment")
    if answer.get("frozen"):
        io.out.write(
            f"{env}: FROZEN by {answer.get('by')} at {answer.get('at')}: {answer.get('reason')}\n"
            "no deploys, rollbacks or scaling there, and alarm reactions change nothing, "
            f"until `opsbot unfreeze {env}`\n"
        )
    else:
        io.out.write(f"{env}: not frozen (unfrozen by {answer.get('by')} at {answer.get('at')})\n")
    return Exit.OK


def cmd_freeze(api: Api, io: Io, args: argparse.Namespace) -> int:
    """POST /environments/{env}/freeze."""
    body = {"reason": args.reason}
    answer = api.post(
        path("environments", args.environment, "freeze"), body, key=args.idempotency_key
    )
    return _show(io, answer.body)


def cmd_unfreeze(api: Api, io: Io, args: argparse.Namespace) -> int:
    """POST /environments/{env}/unfreeze."""
    body = {"reason": args.reason} if args.reason else {}
    where = path("environments", args.environment, "unfreeze")
    return _show(io, api.post(where, body, key=args.idempotency_key).body)


def _reason(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("say why (a non-empty reason)")
    return text


def add_parsers(
    sub: Any, *, common: argparse.ArgumentParser, post: argparse.ArgumentParser
) -> None:
    """``freeze`` and ``unfreeze``."""
    p = sub.add_parser(
        "freeze",
        parents=[common, post],
        help="freeze an environment: no deploys, rollbacks, scaling or alarm actions there",
    )
    p.add_argument("environment", metavar="ENV")
    p.add_argument("--reason", required=True, type=_reason, help="why (shown to everyone)")
    p.set_defaults(run=cmd_freeze)
    p = sub.add_parser("unfreeze", parents=[common, post], help="end an environment's freeze")
    p.add_argument("environment", metavar="ENV")
    p.add_argument("--reason", help="why (optional)")
    p.set_defaults(run=cmd_unfreeze)
