"""``make fleet``: 20 member accounts, 1,000 ECS services, an alarm storm under faults.

Starts its own local stack (``python -m infra.local run`` on free ports, its own state
directory) with a generated policy: 20 environments, each in its own member account reached by
STS AssumeRole of its member role, 50 ECS services each (bounds 1..3, seeded at 1), one CPU
alarm per service whose actions publish to opsbot's alarms topic, one alarm rule per service
(scale out by 1, five-minute cooldown) and, when the checkout has them, the blast-radius caps.
Seeds the member accounts in parallel, turns faults on (``faults --aws-errors 0.05 --crashes
0.05``), then publishes CloudWatch's ALARM notification for every service (as ``python -m
infra.local alarm`` does) spread over the storm, plus 10% duplicates (the same state change
published again), waits until every notification has been handled (Lambda's retries
included) and accounts for every service from what the embedded AWS and the state table say
(``bench.fleet_report``). Writes ``bench/fleet.json``.

    .venv/bin/python -m bench.fleet [--accounts 20] [--services-per-account 50] [--seed 19] ...
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from bench import fleet_world as world
from bench.fleet_report import Published, Reading, account
from bench.fleet_storm import Storm, notifications, settle
from bench.load import Stack
from infra.local.launch import launch

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "fleet-admin-token"


def machine(note: str) -> dict[str, Any]:
    """Where the figures come from."""
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "note": note,
    }


def dashboard(stack: Stack, fleet: list[world.Member], *, quiet: bool) -> dict[str, Any]:
    """The dashboard's render of the whole fleet (``bench.fleet_render``)."""
    from bench.fleet_render import dashboard_render

    services = sum(len(m.services) for m in fleet)
    found = dashboard_render(stack.api_url, TOKEN, len(fleet), services)
    when = "before the storm" if quiet else "after it"
    print(f"  dashboard, {services} services, {when}: {found.get('ms')} ms")
    return found


def write_calls(calls: dict[str, int]) -> dict[str, int]:
    """DynamoDB write calls (those that bill write units) by operation, over every function."""
    writes = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
    out: Counter[str] = Counter()
    for key, n in calls.items():
        op = key.rsplit(" ", 1)[-1]
        if op.startswith("dynamodb.") and op.removeprefix("dynamodb.") in writes:
            out[op] += n
    return dict(sorted(out.items()))


def read_back(
    stack: Stack,
    fleet: list[world.Member],
    clients: dict[str, world.Client],
    effects: dict[str, Any],
    published: list[Published],
) -> Reading:
    """What the embedded AWS and the state table say now."""
    table = json.loads((stack.state_dir / "stack.json").read_text())["app_env"]["OPSBOT_TABLE"]
    ddb = stack.aws("dynamodb")
    desired: dict[tuple[str, str], int] = {}
    for counts in world.in_parallel(
        lambda m: world.desired_counts(clients[m.environment], m), fleet
    ):
        desired.update(counts)
    audit = [e for m in fleet for e in world.audit_entries(ddb, table, m.environment)]
    admitted: dict[tuple[str, str], int] = {}
    for m in fleet:
        admitted.update(world.cap_counters(ddb, table, m.environment))
    return Reading(
        seeded={(m.environment, s): world.SEEDED_DESIRED for m in fleet for s in m.services},
        desired=desired,
        audit=audit,
        cooldowns=world.claimed_cooldowns(ddb, table),
        updates=[u for u in effects["log"] if u["op"] == "ecs.UpdateService"],
        published=published,
        admitted=admitted,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--services-per-account", type=int, default=50)
    parser.add_argument("--storm-seconds", type=float, default=55.0, help="all alarms within")
    parser.add_argument("--duplicates", type=float, default=0.10)
    parser.add_argument("--aws-errors", type=float, default=0.05)
    parser.add_argument("--crashes", type=float, default=0.05)
    parser.add_argument("--cap", type=int, default=5, help="max automated changes per minute")
    parser.add_argument("--at-once", type=int, default=5, help="max services scaled at once")
    parser.add_argument("--concurrency", type=int, default=8, help="async invocations at once")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--settle-timeout", type=float, default=900)
    parser.add_argument("--no-dashboard", action="store_true", help="skip the render timing")
    parser.add_argument(
        "--no-storm",
        action="store_true",
        help="only seed the fleet and time the dashboard (prints it; writes no report)",
    )
    parser.add_argument(
        "--machine-note",
        default="shared 2-core machine: several engineers' sessions ran tests and stacks at once",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "fleet.json")
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]

    began = time.monotonic()
    where = machine(args.machine_note)
    fleet = world.members(args.accounts, args.services_per_account)
    limits = world.policy_knows_limits()
    state_dir = Path(tempfile.mkdtemp(prefix="opsbot-fleet-"))
    policy_file = state_dir / "fleet-policy.yaml"
    policy = world.fleet_policy(fleet, cap=args.cap, at_once=args.at_once, limits=limits)
    policy_file.write_text(yaml.safe_dump(policy, sort_keys=False))
    print(f"starting the local stack (policy: {len(fleet)} environments, caps {limits}) ...")
    extra = {
        "OPSBOT_POLICY_FILE": str(policy_file),
        "OPSBOT_LOCAL_CONCURRENCY": str(args.concurrency),
    }
    with (
        (state_dir / "stack.log").open("w") as log,
        launch(
            state_dir,
            token=TOKEN,
            signing_secret="fleet-signing-secret",
            on_line=log.write,
            ready_timeout=300,
            stop_timeout=30,
            extra_env=extra,
        ) as up,
    ):
        stack = Stack(up.api_url, up.aws_url, up.state_dir, up.env)
        info = json.loads((stack.state_dir / "stack.json").read_text())
        print(f"  ready in {time.monotonic() - began:.0f} s; state in {stack.state_dir}")
        t0 = time.monotonic()
        home = stack.aws
        clients = {m.environment: world.member_clients(stack.aws_url, home, m) for m in fleet}
        topic = info["alarms_topic_arn"]
        made = world.in_parallel(
            lambda m: world.seed_member(clients[m.environment], m, topic), fleet, threads=10
        )
        alarms = dict(
            zip(
                [m.environment for m in fleet],
                world.in_parallel(lambda m: world.alarms_of(clients[m.environment], m), fleet),
                strict=True,
            )
        )
        seeded_in = time.monotonic() - t0
        print(f"  seeded {sum(made)} services in {len(fleet)} accounts in {seeded_in:.0f} s")

        quiet = {} if args.no_dashboard else dashboard(stack, fleet, quiet=True)
        if args.no_storm:
            where["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
            print(json.dumps({"dashboard": quiet, "machine": where}, indent=2))
            return 0
        stack.endpoint("effects", {"reset": True})
        print(
            stack.control(
                "faults",
                f"--aws-errors={args.aws_errors}",
                f"--crashes={args.crashes}",
                f"--seed={args.seed}",
            ).splitlines()[0]
        )
        storm = Storm(stack, topic, clients)
        messages = notifications(fleet, alarms, datetime.now(UTC))
        steps = storm.plan(
            fleet, seconds=args.storm_seconds, duplicates=args.duplicates, seed=args.seed
        )
        print(f"storm: {len(steps)} notifications within {args.storm_seconds:g} s ...")
        storm_began = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            for step in steps:
                pool.submit(
                    storm.publish, storm_began, step, messages[(step[1].environment, step[2])]
                )
        stormed = time.monotonic() - storm_began
        print(f"  published {len(storm.sent)} in {stormed:.1f} s ({len(storm.failed)} failed)")
        handled, settled_in = settle(stack, [p.message_id for p in storm.sent], args.settle_timeout)
        injected = stack.endpoint("faults", {})["counts"]
        print(stack.control("faults", "off").strip().splitlines()[0])
        time.sleep(2)  # the last posts in flight
        effects = stack.endpoint("effects", {})
        reading = read_back(stack, fleet, clients, effects, storm.sent)
        render = {} if args.no_dashboard else dashboard(stack, fleet, quiet=False)
    outcome = account(reading)
    invocations = effects.get("invocations", {})
    report: dict[str, Any] = {
        "accounts": len({m.account for m in fleet}),
        "environments": len(fleet),
        "services": len(reading.seeded),
        "alarms_sent": sum(1 for p in storm.sent if not p.duplicate),
        "duplicates_sent": sum(1 for p in storm.sent if p.duplicate),
        "publish_failures": len(storm.failed),
        "storm_seconds": round(stormed, 1),
        "caps": {
            "max_automated_changes_per_minute": args.cap,
            "max_services_scaled_at_once": args.at_once,
        }
        if limits
        else None,
        "cooldown_seconds": world.COOLDOWN_SECONDS,
        "faults": {
            "aws_errors": args.aws_errors,
            "crashes": args.crashes,
            "seed": args.seed,
            "injected": injected,
        },
        **{k: v for k, v in outcome.items() if k != "unaccounted_examples"},
        "notifications_handled": handled,
        "lambda_invocations": sum(invocations.values()),
        "lambda_invocations_by_function": invocations,
        "dynamodb_consumed_wcu": sum(effects.get("wcu", {}).values()),
        "dynamodb_write_calls": write_calls(effects["calls"]),
        "update_service_calls": len(reading.updates),
        "dashboard_render_ms": render.get("ms"),
        "dashboard": {"after_the_storm": render, "before_the_storm": quiet},
        "seed_seconds": round(seeded_in, 1),
        "settle_seconds": round(settled_in, 1),
        "seconds": round(time.monotonic() - began, 1),
        "machine": where,
        "unaccounted_examples": outcome["unaccounted_examples"],
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for key in (
        "accounts",
        "services",
        "alarms_sent",
        "targets_changed_once",
        "targets_changed_twice_or_more",
        "held_by_cap",
        "cooled_down",
        "unaccounted",
        "accounted",
        "max_changes_per_minute_per_environment",
        "max_changes_per_audited_minute_per_environment",
        "max_update_service_calls_per_clock_minute_per_environment",
        "p95_alarm_to_action_ms",
        "lambda_invocations",
        "dynamodb_consumed_wcu",
        "dashboard_render_ms",
        "seconds",
    ):
        print(f"  {key:40} {report[key]}")
    shown = args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out
    print(f"wrote {shown}")
    return 0 if report["accounted"] else 1


if __name__ == "__main__":
    sys.exit(main())
