"""``python -m infra.local COMMAND``: run the local stack, or drive it.

run                       the whole backend in the foreground (what ``make run`` does)
alarm NAME ALARM|OK       set an alarm's state, publish CloudWatch's notification to its actions,
                          and print what opsbot did about it (waits up to --wait seconds)
tick NAME [--json]        run a scheduled handler once (certificates, budgets, sweeper) and print
                          what it did (--json: the handler's result)
spend BUDGET AMOUNT       set a budget's actual spend
rollout-fail SERVICE [--exit-code N]
                          the next rollout of SERVICE in demo fails (circuit breaker rolls back):
                          its tasks fail their health checks (or exit with code N)
rollout-crashloop SERVICE the next rollout of SERVICE in demo crash-loops (tasks exit 1; ECS
                          never reports it failed: opsbot's early abort or timeout ends it)
faults [--aws-errors R] [--crashes R] [--lost-events R] [--duplicates R] [--seed N]
                          inject faults into opsbot's functions until `faults off`;
                          `faults` alone prints the setting and what was injected
"""

from __future__ import annotations

import argparse
import sys

from infra.local import control
from infra.local.demo.budgets import spend_amount


def _amount(raw: str) -> float:
    try:
        return spend_amount(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parser() -> argparse.ArgumentParser:
    """The command line (the docs' control-command reference is generated from it)."""
    parser = argparse.ArgumentParser(
        prog="python -m infra.local",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the local stack in the foreground")
    alarm = sub.add_parser("alarm", help="set an alarm's state and notify its actions")
    alarm.add_argument("name")
    alarm.add_argument("state", type=str.upper, choices=["ALARM", "OK", "INSUFFICIENT_DATA"])
    alarm.add_argument("--reason", default=None, help="the state reason CloudWatch would give")
    tick = sub.add_parser("tick", help="run a scheduled handler once")
    tick.add_argument("name")
    tick.add_argument("--json", action="store_true", help="print the handler's result as JSON")
    for command in (alarm, tick):
        command.add_argument(
            "--wait",
            type=float,
            default=control.OUTCOME_WAIT_SECONDS,
            metavar="SECONDS",
            help="how long to wait for the outcome to report (0: do not wait)",
        )
    spend = sub.add_parser("spend", help="set a budget's actual spend")
    spend.add_argument("budget")
    spend.add_argument("amount", type=_amount)
    fail = sub.add_parser("rollout-fail", help="make the next rollout of a service fail")
    fail.add_argument("service")
    fail.add_argument("--cluster", default="demo")
    fail.add_argument("--exit-code", type=int, default=None, help="tasks exit with this code")
    loop = sub.add_parser("rollout-crashloop", help="make the next rollout of a service crash-loop")
    loop.add_argument("service")
    loop.add_argument("--cluster", default="demo")
    faults = sub.add_parser(
        "faults", help="inject faults into opsbot's functions (game days); `faults off` ends them"
    )
    faults.add_argument("off", nargs="?", choices=["off"], help="end the faults")
    for name, what in (
        ("aws-errors", "each AWS call fails with throttling or a 5xx"),
        ("crashes", "each invocation dies at one of its AWS calls"),
        ("lost-events", "each EventBridge event bound for opsbot (ECS, ACM) is lost"),
        ("duplicates", "each SQS, SNS or EventBridge delivery is made twice"),
    ):
        faults.add_argument(f"--{name}", type=_rate, metavar="R", help=f"probability that {what}")
    faults.add_argument("--seed", type=int, metavar="N", help="makes a run reproducible")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command."""
    cli = parser()
    args = cli.parse_args(argv)

    if args.command == "run":
        from infra.local.stack import run

        return run()
    try:
        if args.command == "alarm":
            print(control.alarm(args.name, args.state, reason=args.reason, wait=args.wait))
        elif args.command == "tick":
            print(control.tick(args.name, wait=args.wait, as_json=args.json))
        elif args.command == "spend":
            print(control.spend(args.budget, args.amount))
        elif args.command == "rollout-fail":
            print(
                control.rollout_fail(args.service, cluster=args.cluster, exit_code=args.exit_code)
            )
        elif args.command == "rollout-crashloop":
            print(control.rollout_crashloop(args.service, cluster=args.cluster))
        elif args.command == "faults":
            print(_faults(cli, args))
    except control.ControlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _rate(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a probability from 0 to 1")
    return value


def _faults(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    rates = {
        name: getattr(args, name)
        for name in ("aws_errors", "crashes", "lost_events", "duplicates")
        if getattr(args, name) is not None
    }
    if args.off:
        if rates or args.seed is not None:
            parser.error("faults off takes no rates")
        return control.faults(off=True)
    if not rates:
        if args.seed is not None:
            parser.error("--seed needs at least one rate")
        return control.faults()
    return control.faults({**rates, "seed": args.seed})


if __name__ == "__main__":
    sys.exit(main())
