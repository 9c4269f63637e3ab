"""``opsbot policy validate [FILE]`` and ``opsbot policy diff OLD NEW``: the ops policy checked
on this machine, without AWS or a running opsbot (for a pull request's CI and its reviewer).

They need the policy's models (pydantic, ``chalicelib``): the opsbot checkout's venv has them
(``.venv/bin/opsbot``, or ``python -m opsbot_cli`` in the checkout with requirements.txt
installed). The rest of the CLI stays standard-library only: ``chalicelib`` is imported here,
when a ``policy`` command runs, never by the other commands.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from opsbot_cli.exits import Exit

if TYPE_CHECKING:
    from opsbot_cli.main import Io

NEEDS = (
    "error: `opsbot policy` needs the opsbot checkout's Python packages (pydantic, PyYAML and "
    "its chalicelib): run it from the checkout as .venv/bin/opsbot (make run or make test "
    "installs it), or `python -m opsbot_cli policy ...` there after "
    "`pip install -r requirements.txt` ({reason})\n"
)


def _modules() -> tuple[ModuleType, ModuleType] | str:
    """chalicelib's policy checker and differ, or why they cannot be imported."""
    try:
        from chalicelib.domain import policy_check, policy_diff
    except ImportError as exc:
        return str(exc)
    return policy_check, policy_diff


def default_policy_file() -> Path:
    """The packaged policy: ``chalicelib/policy.yaml`` beside the chalicelib imported."""
    import chalicelib

    return Path(chalicelib.__file__).resolve().parent / "policy.yaml"


def _problems(checked: Any, io: Io) -> int:
    io.err.write(f"{checked.source}: invalid ops policy ({len(checked.problems)} problem(s))\n")
    for line in checked.problems:
        io.err.write(f"{line}\n")
    return int(Exit.POLICY_INVALID)


def cmd_validate(io: Io, args: argparse.Namespace) -> int:
    """Check one policy file: a summary line (exit 0), or every problem (exit 1)."""
    found = _modules()
    if isinstance(found, str):
        io.err.write(NEEDS.format(reason=found))
        return int(Exit.NOT_CONFIGURED)
    check, _ = found
    checked = check.check_file(Path(args.file) if args.file else default_policy_file())
    if io.json:
        body: dict[str, Any] = {
            "source": checked.source,
            "valid": checked.policy is not None,
            "problems": checked.problems,
        }
        if checked.policy is not None:
            body["counts"] = check.counts(checked.policy)
        io.out.write(json.dumps(body, indent=2) + "\n")
    if checked.policy is None:
        return _problems(checked, io)
    if not io.json:
        io.out.write(check.summary(checked) + "\n")
    return int(Exit.OK)


def cmd_diff(io: Io, args: argparse.Namespace) -> int:
    """What changing OLD into NEW grants or removes; exit 1 when either is invalid."""
    found = _modules()
    if isinstance(found, str):
        io.err.write(NEEDS.format(reason=found))
        return int(Exit.NOT_CONFIGURED)
    check, differ = found
    old, new = check.check_file(Path(args.old)), check.check_file(Path(args.new))
    for checked in (old, new):
        if checked.policy is None:
            return _problems(checked, io)
    change = differ.diff(old.policy, new.policy)
    if io.json:
        io.out.write(json.dumps(change, indent=2) + "\n")
    else:
        io.out.write("".join(f"{line}\n" for line in differ.lines(change)))
    return int(Exit.OK)


def add_parsers(sub: Any, *, common: argparse.ArgumentParser) -> None:
    """``policy validate`` and ``policy diff`` (they run offline: no token, no API)."""
    top = sub.add_parser(
        "policy", help="check the ops policy offline: validate, diff (no AWS, no API)"
    )
    commands = top.add_subparsers(dest="policy_command", required=True, metavar="COMMAND")
    p = commands.add_parser(
        "validate",
        parents=[common],
        help="check a policy file: exit 0 and a summary, or 1 and every problem",
    )
    p.add_argument("file", nargs="?", help="a policy YAML file (default: chalicelib/policy.yaml)")
    p.set_defaults(offline=cmd_validate)
    p = commands.add_parser(
        "diff",
        parents=[common],
        help="what changing OLD into NEW grants or removes (permissions, bounds, rules, approvals)",
    )
    p.add_argument("old", help="the policy file before the change")
    p.add_argument("new", help="the policy file after the change")
    p.set_defaults(offline=cmd_diff)
