"""``python -m infra.local COMMAND``: run the local stack, or drive it.

run                       the whole backend in the foreground (what ``make run`` does)
alarm NAME ALARM|OK       set an alarm's state and publish CloudWatch's notification to its actions
tick NAME                 run a scheduled handler once (certificates, budgets, ...)
spend BUDGET AMOUNT       set a budget's actual spend
rollout-fail SERVICE      the next rollout of SERVICE in demo fails (circuit breaker rolls back)
"""

from __future__ import annotations

import argparse
import sys

from infra.local import control
from infra.local.seed import spend_amount


def _amount(raw: str) -> float:
    try:
        return spend_amount(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command."""
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
    spend = sub.add_parser("spend", help="set a budget's actual spend")
    spend.add_argument("budget")
    spend.add_argument("amount", type=_amount)
    fail = sub.add_parser("rollout-fail", help="make the next rollout of a service fail")
    fail.add_argument("service")
    fail.add_argument("--cluster", default="demo")
    args = parser.parse_args(argv)

    if args.command == "run":
        from infra.local.stack import run

        return run()
    try:
        if args.command == "alarm":
            print(control.alarm(args.name, args.state, reason=args.reason))
        elif args.command == "tick":
            print(control.tick(args.name))
        elif args.command == "spend":
            print(control.spend(args.budget, args.amount))
        elif args.command == "rollout-fail":
            print(control.rollout_fail(args.service, cluster=args.cluster))
    except control.ControlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
