"""``opsbot COMMAND``: parse the command line, call the API, print, exit with a meaningful code.

Every command takes ``--output table|json``; ``json`` prints the API's JSON on standard output
and nothing else (progress and messages go to standard error). Exit codes: ``exits.Exit``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from opsbot_cli import __version__, config, guards, reads, render
from opsbot_cli.client import Api, ApiError, Unreachable
from opsbot_cli.client import path as _path
from opsbot_cli.exits import Exit
from opsbot_cli.follow import follow

DEFAULT_WAIT_SECONDS = 1800.0  # covers a protected environment's 30-minute approval window
HISTORY_LIMIT = 20


class Io:
    """Where output goes: results to ``out``, progress and messages to ``err`` (or ``out``)."""

    def __init__(self, out: TextIO, err: TextIO, *, json_output: bool) -> None:
        self.out = out
        self.err = err
        self.json = json_output

    @property
    def progress(self) -> TextIO:
        """Progress lines: standard error when standard output carries JSON."""
        return self.err if self.json else self.out


# -- commands ------------------------------------------------------------------------------


def _finish(api: Api, io: Io, body: dict[str, Any], args: argparse.Namespace) -> int:
    """Print a deployment the API answered with; with --wait, follow it to its end."""
    if not getattr(args, "wait", False):
        if io.json:
            render.dump_json(body, io.out)
        else:
            io.out.write(render.deployment_head(body) + "\n")
            io.out.write(render.deployment_note(body) + "\n")
        return Exit.OK
    live = not io.json and io.progress.isatty()
    followed = follow(api, body, timeout=args.timeout, out=io.progress, live=live)
    if io.json:
        render.dump_json(followed.deployment, io.out)
    return followed.exit


def cmd_deploy(api: Api, io: Io, args: argparse.Namespace) -> int:
    """POST /deployments (a TAG containing ``/`` or ``@`` is sent as a whole image; ``--from ENV``
    promotes the digest ENV runs; ``--dry-run`` shows what it would do and changes nothing)."""
    body: dict[str, Any] = {"environment": args.env, "service": args.service}
    if args.from_env:
        body["from_environment"] = args.from_env
    else:
        body["image" if ("/" in args.tag or "@" in args.tag) else "tag"] = args.tag
    if args.dry_run:
        body["dry_run"] = True
        plan = api.post("/deployments", body, key=args.idempotency_key).body
        if io.json:
            render.dump_json(plan, io.out)
        else:
            io.out.write(render.dry_run(plan))
        return Exit.OK
    answer = api.post("/deployments", body, key=args.idempotency_key)
    return _finish(api, io, answer.body, args)


def _one_source(cli: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``deploy`` takes a TAG or ``--from ENV``, exactly one."""
    if (args.tag is None) == (args.from_env is None):
        cli.error("deploy: give a TAG or --from ENV (exactly one)")


def cmd_rollback(api: Api, io: Io, args: argparse.Namespace) -> int:
    """POST /deployments/{id}/rollback."""
    body = {"reason": args.reason} if args.reason else {}
    answer = api.post(_path("deployments", args.id, "rollback"), body, key=args.idempotency_key)
    return _finish(api, io, answer.body, args)


def cmd_approve(api: Api, io: Io, args: argparse.Namespace) -> int:
    """POST /deployments/{id}/approve."""
    answer = api.post(_path("deployments", args.id, "approve"), {}, key=args.idempotency_key)
    return _finish(api, io, answer.body, args)


def cmd_deny(api: Api, io: Io, args: argparse.Namespace) -> int:
    """POST /deployments/{id}/deny."""
    answer = api.post(_path("deployments", args.id, "deny"), {}, key=args.idempotency_key)
    return _finish(api, io, answer.body, args)


def cmd_scale(api: Api, io: Io, args: argparse.Namespace) -> int:
    """POST /services/{env}/{service}/scale."""
    body: dict[str, Any] = {"desired": args.desired}
    if args.reason:
        body["reason"] = args.reason
    path = _path("services", args.env, args.service, "scale")
    answer = api.post(path, body, key=args.idempotency_key).body
    if io.json:
        render.dump_json(answer, io.out)
    elif "previous_desired" in answer:
        io.out.write(
            f"{args.env}/{args.service}: desired {answer.get('previous_desired')} -> "
            f"{answer.get('desired')} (bounds {answer.get('min')}..{answer.get('max')})\n"
        )
    else:
        io.out.write(f"{args.env}/{args.service}: {answer.get('status') or answer}\n")
    return Exit.OK


# -- parsing -------------------------------------------------------------------------------


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value


def _count(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 0")
    return int(text)


def _limit(text: str) -> int:
    value = _count(text)
    if not 1 <= value <= 500:
        raise argparse.ArgumentTypeError("must be from 1 to 500")
    return value


def parser(default_env: str) -> argparse.ArgumentParser:
    """The command line."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--output",
        "-o",
        choices=["table", "json"],
        default="table",
        help="table (default) or json: the API's JSON on standard output, nothing else",
    )
    env = argparse.ArgumentParser(add_help=False)
    env.add_argument(
        "--env",
        default=default_env,
        help=f"environment (default {default_env}: OPSBOT_ENVIRONMENT or the profile's)",
    )
    post = argparse.ArgumentParser(add_help=False)
    post.add_argument(
        "--idempotency-key",
        metavar="KEY",
        help="send this Idempotency-Key (default: a fresh one, kept across this run's retries)",
    )
    wait = argparse.ArgumentParser(add_help=False)
    wait.add_argument("--wait", action="store_true", help="follow it until it ends")
    wait.add_argument(
        "--timeout",
        type=_positive,
        default=DEFAULT_WAIT_SECONDS,
        metavar="SECONDS",
        help=f"with --wait: give up waiting after this long (default {DEFAULT_WAIT_SECONDS:g})",
    )

    top = argparse.ArgumentParser(
        prog="opsbot",
        description="opsbot from the command line: a client of its REST API "
        "(OPSBOT_URL, OPSBOT_API_TOKEN, or the profile `make run` writes).",
    )
    top.add_argument("--version", action="version", version=f"opsbot-cli {__version__}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "deploy", parents=[common, env, post, wait], help="deploy a tag of a service"
    )
    p.add_argument("service")
    p.add_argument(
        "tag", nargs="?", help="an image tag in the service's ECR repository (or a whole image)"
    )
    p.add_argument(
        "--from", dest="from_env", metavar="ENV", help="promote the exact digest ENV runs (no TAG)"
    )
    p.add_argument("--dry-run", action="store_true", help="show what it would do; change nothing")
    p.set_defaults(run=cmd_deploy, check=_one_source)
    p = sub.add_parser("rollback", parents=[common, post, wait], help="roll a deployment back")
    p.add_argument("id")
    p.add_argument("--reason")
    p.set_defaults(run=cmd_rollback)
    p = sub.add_parser("approve", parents=[common, post, wait], help="approve a deployment")
    p.add_argument("id")
    p.set_defaults(run=cmd_approve)
    p = sub.add_parser("deny", parents=[common, post], help="deny a deployment")
    p.add_argument("id")
    p.set_defaults(run=cmd_deny)
    p = sub.add_parser("scale", parents=[common, env, post], help="set a service's desired count")
    p.add_argument("service")
    p.add_argument("desired", type=_count, metavar="N")
    p.add_argument("--reason")
    p.set_defaults(run=cmd_scale)
    reads.add_parsers(sub, common=common, env=env, limit=_limit, default_limit=HISTORY_LIMIT)
    guards.add_parsers(sub, common=common, post=post)
    return top


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    environ: dict[str, str] | None = None,
    make_api: Callable[..., Api] = Api,
) -> int:
    """Run one command; its exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    settings = config.load(environ)
    cli = parser(settings.environment)
    args = cli.parse_args(argv)
    if getattr(args, "check", None) is not None:
        args.check(cli, args)  # exits 2 (argparse's usage error) when the line is wrong
    io = Io(out, err, json_output=args.output == "json")
    if not settings.token:
        looked = config.profile_paths(os.environ if environ is None else environ)
        where = ", ".join(dict.fromkeys(str(p) for p in looked))
        err.write(
            "error: no API token: set OPSBOT_API_TOKEN (and OPSBOT_URL), or start the local "
            f"stack with `make run`, which writes a profile (looked in: {where})\n"
        )
        return Exit.NOT_CONFIGURED
    api = make_api(settings.url, settings.token, on_retry=lambda m: err.write(f"retry: {m}\n"))
    try:
        return int(args.run(api, io, args))
    except ApiError as exc:
        if io.json:
            render.dump_json(exc.body, out)
        err.write(f"error: {exc}\n")
        holder = (exc.body.get("error") or {}).get("holder")
        if holder:
            err.write(f"  the service is busy with {holder}\n")
        return Exit.API_ERROR
    except Unreachable as exc:
        if io.json and exc.body:
            render.dump_json(exc.body, out)
        err.write(f"error: {exc}\n")
        return Exit.UNREACHABLE
    except KeyboardInterrupt:
        err.write("interrupted (opsbot carries on with what it was asked)\n")
        return 130
    except BrokenPipeError:  # `opsbot ... | head -1`: the reader left; say nothing more
        if out is sys.stdout:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return Exit.BROKEN_PIPE
