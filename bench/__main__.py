"""``make bench``: opsbot against the floor (bare boto3 making the same AWS calls) and the peer.

Writes ``bench/results.json`` and prints a table. Everything runs against the bench's own
embedded AWS (moto on loopback), except the stack figures, which go through the local stack a
user runs. ``make bench`` builds the package first (``package_*`` figures need it).

    .venv/bin/python -m bench [--app DIR] [--cold-runs 15] [--warm-runs 200] [--out FILE]
    .venv/bin/python -m bench --cold-only [--app DIR] [--cold-runs 15]   # cold_vs_libraries only

``--app`` measures another checkout's app (its chalicelib and app.py) with this bench: how the
"before" figures in docs/operations/performance.md were taken.
"""

from __future__ import annotations

from bench import calls  # first: every botocore session made from here on is counted

calls.install()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from bench import cold, package, peer, primed, stack, stats  # noqa: E402
from bench.report import TARGETS, table  # noqa: E402
from bench.world import ROOT, embedded_world  # noqa: E402


def _machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }


def _warm(app_dir: Path, world: Any, runs: int, services: list[str]) -> dict[str, Any]:
    world.reset_web()
    alarm = [world.write_event(f"warm-alarm-{n}", world.alarm_event()) for n in range(2)]
    deploy = [
        world.write_event(f"warm-deploy-{n}", world.deploy_event(s)[0])
        for n, s in enumerate(services)
    ]
    slack = [world.write_event(f"warm-slack-{n}", world.slack_event()) for n in range(2)]
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "warm_child.py"),
            str(app_dir),
            str(runs),
            "alarm=" + ",".join(alarm),
            "deploy=" + ",".join(deploy),
            "slack=" + ",".join(slack),
        ],
        env=world.env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"warm bench failed:\n{done.stderr[-4000:]}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "median_ms": {k: stats.median_ms(v) for k, v in data["times"].items()},
        "median_ms_with_client_calls": {k: stats.median_ms(v) for k, v in data["totals"].items()},
        "aws_calls": data["calls"],
    }


def _compile(app_dir: Path) -> None:
    """Bytecode for the app, as a deployed opsbot has it (the package ships it; a shell with
    ``PYTHONDONTWRITEBYTECODE`` set would otherwise compile opsbot in every cold run, while
    the floor's boto3 has its bytecode from pip)."""
    import compileall

    compileall.compile_dir(str(app_dir / "chalicelib"), quiet=1)
    compileall.compile_file(str(app_dir / "app.py"), quiet=1)


def _compile_policy(app_dir: Path, env: dict[str, str]) -> None:
    """The bench's policy compiled by the measured app, as ``make package`` compiles the
    packaged one (``chalicelib/domain/compile_policy.py``; an app without it has nothing to do)."""
    if (app_dir / "chalicelib" / "domain" / "compile_policy.py").exists():
        subprocess.run(
            [sys.executable, "-m", "chalicelib.domain.compile_policy", env["OPSBOT_POLICY_FILE"]],
            cwd=app_dir, env=env, check=True, capture_output=True,
        )  # fmt: skip


def _cold_only(
    results: dict[str, Any], alarms: cold.Pair, deploys: cold.Pair, started: float
) -> dict[str, Any]:
    """``--cold-only``: the cold alarm and deploy figures alone (import + first event, not
    primed), each side's medians and the load average at the end."""
    results["cold_vs_libraries"] = {
        "alarm": stats.ratio_to(alarms, "libraries"),
        "deploy": stats.ratio_to(deploys, "libraries"),
    }
    results["cold_alarm_ratio"], results["cold_deploy_ratio"] = (
        stats.ratio(alarms),
        stats.ratio(deploys),
    )
    results["detail"] = {
        f"cold_{kind}": {side: stats.side(getattr(pair, side)) for side in cold.SIDES}
        for kind, pair in (("alarm", alarms), ("deploy", deploys))
    }
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["seconds"] = round(time.monotonic() - started)
    return results


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Every figure of ``bench/results.json``."""
    app_dir = Path(args.app).resolve()
    _compile(app_dir)
    workdir = Path(tempfile.mkdtemp(prefix="opsbot-bench-"))
    started = time.monotonic()
    n_cold, n_peer = args.cold_runs, 3
    results: dict[str, Any] = {"machine": _machine(), "app": str(app_dir)}
    detail: dict[str, Any] = {}
    with embedded_world(workdir, 2 * n_cold + 2 + n_peer) as world:
        _compile_policy(app_dir, world.env)
        services = world.deploy_services
        cold_services, warm_services = services[:n_cold], services[n_cold : n_cold + 2]
        peer_services = services[n_cold + 2 : n_cold + 2 + n_peer]
        primed_services = services[n_cold + 2 + n_peer :]

        alarm_files = [world.write_event(f"alarm-{n}", world.alarm_event()) for n in range(n_cold)]
        alarms = cold.cold_pair(
            "alarm", alarm_files, app_dir=app_dir, env=world.env, workdir=workdir,
            before_each=world.reset_web,
        )  # fmt: skip
        requested, deploy_files = [], []
        for n, service in enumerate(cold_services):
            event, made = world.deploy_event(service)
            requested.append(made)
            deploy_files.append(world.write_event(f"deploy-{n}", event))
        deploys = cold.cold_pair(
            "deploy", deploy_files, app_dir=app_dir, env=world.env, workdir=workdir
        )
        if args.cold_only:
            return _cold_only(results, alarms, deploys, started)
        # SnapStart: primed alarm and deploy runs against the floor with its clients built
        primed_files = [
            world.write_event(f"primed-alarm-{n}", world.alarm_event()) for n in range(n_cold)
        ]
        primed_alarms, alarm_restores = primed.primed_pair(
            "alarm", primed_files, app_dir=app_dir, env=world.env, workdir=workdir,
            before_each=world.reset_web,
        )  # fmt: skip
        primed_files = [
            world.write_event(f"primed-deploy-{n}", world.deploy_event(service)[0])
            for n, service in enumerate(primed_services)
        ]
        primed_deploys, deploy_restores = primed.primed_pair(
            "deploy", primed_files, app_dir=app_dir, env=world.env, workdir=workdir
        )
        primed_slacks, slack_restores = primed.primed_pair(
            "slack", [world.write_event(f"primed-slack-{n}", world.slack_event())
                      for n in range(n_cold)],
            app_dir=app_dir, env=world.env, workdir=workdir,
        )  # fmt: skip
        slack_runs = primed.cold_slack(
            lambda name: world.write_event(name, world.slack_event()), n_cold,
            app_dir=app_dir, env=world.env, workdir=workdir,
        )  # fmt: skip
        warm = _warm(app_dir, world, args.warm_runs, warm_services)
        peers = [peer.deploy(s, env=world.env, workdir=workdir) for s in peer_services]

        world.reset_web()
        modules = package.event_modules(
            app_dir, world.env, world.write_event("modules", world.alarm_event()),
            workdir / "modules.json",
        )  # fmt: skip

    opsbot_deploy = requested[0] + deploys.opsbot[0].calls
    ecs_deploy = peers[0].calls
    results.update(
        primed_alarm_ratio=stats.event_ratio(primed_alarms),
        primed_deploy_ratio=stats.event_ratio(primed_deploys),
        cold_vs_libraries={
            "alarm": stats.ratio_to(alarms, "libraries"),
            "deploy": stats.ratio_to(deploys, "libraries"),
        },
        cold_slack_ack_ms=stats.median_ms([r.total for r in slack_runs.opsbot]),
        primed_slack_ack_ms=stats.median_ms([r.event for r in primed_slacks.opsbot]),
        cold_alarm_ratio=stats.ratio(alarms),
        cold_deploy_ratio=stats.ratio(deploys),
        warm_overhead_ms=max(warm["median_ms"].values()),
        api_calls_per_deploy={
            "opsbot": len(peer.target_calls(opsbot_deploy)),
            "ecs_deploy": len(peer.target_calls(ecs_deploy)),
        },
        peak_rss_mb=round(max(r.rss_kb for r in deploys.opsbot) / 1024, 1),
    )
    for kind, pair in (("alarm", alarms), ("deploy", deploys)):
        detail[f"cold_{kind}"] = {
            "opsbot": stats.side(pair.opsbot),
            "floor": stats.side(pair.floor),
            "libraries": stats.side(pair.libraries),
        }
    # the least any code on the architecture's libraries could reach (cold.LIBRARIES)
    detail["libraries_floor_ratio"] = {
        "alarm": stats.ratio(alarms, "libraries"),
        "deploy": stats.ratio(deploys, "libraries"),
        "imports": {kind: list(names) for kind, names in cold.LIBRARIES.items()},
    }
    for kind, pair, restores in (
        ("alarm", primed_alarms, alarm_restores),
        ("deploy", primed_deploys, deploy_restores),
        ("slack", primed_slacks, slack_restores),
    ):
        detail[f"primed_{kind}"] = {
            "opsbot": stats.side(pair.opsbot),
            "floor": stats.side(pair.floor),
            "restore_hooks_ms": stats.median_ms(restores),
            "event_ratio": stats.event_ratio(pair),
            "calls": dict(sorted(calls.counts(pair.opsbot[0].calls).items())),
        }
    detail["cold_slack"] = {
        "opsbot": stats.side(slack_runs.opsbot),
        "floor": stats.side(slack_runs.floor),
        "libraries": stats.side(slack_runs.libraries),
        "ratio_to_floor": stats.ratio(slack_runs),
        "ratio_to_libraries": stats.ratio_to(slack_runs, "libraries"),
        "calls": dict(sorted(calls.counts(slack_runs.opsbot[0].calls).items())),
    }
    detail["cold_alarm_calls"] = dict(sorted(calls.counts(alarms.opsbot[0].calls).items()))
    detail["cold_deploy_calls"] = dict(sorted(calls.counts(deploys.opsbot[0].calls).items()))
    detail["warm"] = warm
    detail["deploy_calls"] = {
        "opsbot_request": [c.op for c in requested[0]],
        "opsbot_start": [c.op for c in deploys.opsbot[0].calls],
        "ecs_deploy": [c.op for c in ecs_deploy],
        "ecs_deploy_total_ms": stats.median_ms([r.total for r in peers]),
    }

    zip_path = app_dir / "out" / "deployment.zip"
    if zip_path.exists():
        packaged, dev = package.import_times(zip_path, app_dir, modules, args.cold_runs)
        results["package_mb"] = round(zip_path.stat().st_size / 1e6, 2)
        results["package_import_ratio"] = round(
            statistics.median(p / d for p, d in zip(packaged, dev, strict=True)), 3
        )
        detail["package_import_ms"] = {
            "package": stats.median_ms(packaged),
            "dev": stats.median_ms(dev),
        }
    else:
        detail["package"] = f"{zip_path} missing: run make package first"

    if not args.no_stack:
        through = stack.through_the_stack(
            app_dir, workdir / "policy.yaml", acks=args.acks, alarms=args.alarms
        )
        results["slack_ack_ms"] = through["slack_ack_ms"]
        results["alarm_to_action_ms"] = through["alarm_to_action_ms"]
        detail["stack_samples"] = through["samples"]

    results["runs"] = {
        "cold": n_cold, "warm": args.warm_runs, "slack_acks": args.acks,
        "alarms": args.alarms, "ecs_deploy": n_peer,
    }  # fmt: skip
    results["seconds"] = round(time.monotonic() - started)
    results["targets"] = TARGETS
    results["detail"] = detail
    return results


def main() -> int:
    """Measure, write the results file, print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--app", default=str(ROOT), help="the checkout whose app is measured")
    # 15: on a busy 2-core machine a pair's ratio swings by ±20%; the median of 15 holds still
    parser.add_argument("--cold-runs", type=int, default=15)
    parser.add_argument("--warm-runs", type=int, default=200)
    parser.add_argument("--acks", type=int, default=200)
    parser.add_argument("--alarms", type=int, default=20)
    parser.add_argument("--no-stack", action="store_true", help="skip the local-stack figures")
    parser.add_argument(
        "--cold-only",
        action="store_true",
        help="only the cold alarm and deploy pairs (cold_vs_libraries); prints JSON",
    )
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.json"))
    args = parser.parse_args()
    results = measure(args)
    if args.cold_only:
        print(json.dumps(results, indent=2))
        return 0
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
