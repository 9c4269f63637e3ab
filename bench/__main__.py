"""``make bench``: opsbot's cold start and per-event overhead against the floor.

The floor is bare boto3 making the same AWS calls with no framework around them. Everything
runs against the embedded AWS (moto server on 127.0.0.1), so absolute numbers are loopback
numbers; the differences are opsbot's own cost. Prints a Markdown table.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
COLD_RUNS = 7
WARM_RUNS = 60

BENCH_POLICY = """
environments:
  demo:
    account: "123456789012"
    region: us-east-1
    cluster: demo
    services:
      web: {container: web, repository: web, min: 1, max: 6}
people:
  bench: {roles: {demo: admin}}
roles:
  admin: [read, deploy, scale, rollback]
alarm_rules:
  web-cpu-high:
    alarm: web-cpu-high
    environment: demo
    on_alarm: {action: scale_ecs_service, service: web, step: 1}
    on_ok: {action: scale_ecs_service, service: web, step: -1}
    cooldown: {out: 0, in: 0}
"""

COLD_OPSBOT = """
import json, sys, time
t0 = time.perf_counter()
from app import app
from chalicelib.handlers.alarms import alarm_notification
t1 = time.perf_counter()
event = json.load(open(sys.argv[1]))
alarm_notification(event, None)
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "first_event": t2 - t1}))
"""

COLD_FLOOR = """
import json, time
t0 = time.perf_counter()
import boto3
t1 = time.perf_counter()
ecs = boto3.client("ecs", region_name="us-east-1")
aas = boto3.client("application-autoscaling", region_name="us-east-1")
desired = ecs.describe_services(cluster="demo", services=["web"])["services"][0]["desiredCount"]
aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=["service/demo/web"])
ecs.update_service(cluster="demo", service="web", desiredCount=desired)
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "first_event": t2 - t1}))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ms(values: list[float]) -> str:
    return f"{1000 * statistics.median(values):.1f}"


def _cold(
    script: str, env: dict[str, str], event_file: str, fresh: Callable[[], None] = lambda: None
) -> tuple[list[float], list[float]]:
    """``fresh()`` writes a new event before each run: opsbot acts once per alarm state change,
    so replaying one notification would measure the duplicate path, not a reaction."""
    imports, firsts = [], []
    for _ in range(COLD_RUNS):
        fresh()
        out = subprocess.run(
            [sys.executable, "-c", script, event_file],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        data = json.loads(out.stdout.strip().splitlines()[-1])
        imports.append(data["import"])
        firsts.append(data["first_event"])
    return imports, firsts


def _warm(fn: Callable[[], Any]) -> list[float]:
    fn()
    times = []
    for _ in range(WARM_RUNS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def main() -> int:
    """Run every measurement and print the table."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    workdir = Path(tempfile.mkdtemp(prefix="opsbot-bench-"))
    policy = workdir / "policy.yaml"
    policy.write_text(BENCH_POLICY)
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "OPSBOT_POLICY_FILE": str(policy),
        "OPSBOT_PARAMETER_PREFIX": "/opsbot/bench",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "PYDANTIC_DISABLE_PLUGINS": "__all__",
        "POWERTOOLS_METRICS_NAMESPACE": "opsbot",
    }
    os.environ.update(env)

    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        from infra.local.alarm_notice import alarm_notification
        from infra.local.event_shapes import sns_lambda_event
        from infra.local.seed import seed_demo
        from infra.local.template import deploy_template

        outputs = deploy_template({"NamePrefix": "opsbot", "WorkerTimeoutSeconds": "5"})
        seed_demo(alarms_topic_arn=outputs["AlarmsTopicArn"])
        os.environ.update(
            {
                "OPSBOT_TABLE": outputs["StateTableName"],
                "OPSBOT_WORK_QUEUE": outputs["WorkQueueName"],
            }
        )
        env.update(
            {
                "OPSBOT_TABLE": outputs["StateTableName"],
                "OPSBOT_WORK_QUEUE": outputs["WorkQueueName"],
            }
        )

        from datetime import UTC, datetime, timedelta

        import boto3

        cw = boto3.client("cloudwatch", region_name="us-east-1")
        found: dict[str, Any] = dict(
            cw.describe_alarms(AlarmNames=["web-cpu-high"])["MetricAlarms"][0]
        )

        changes = iter(range(1, 10**6))  # each notification a state change of its own

        def sns_event(state: str) -> dict[str, Any]:
            at = datetime.now(UTC) + timedelta(seconds=next(changes))
            subject, message = alarm_notification(
                found, old_state="OK", new_state=state, reason="bench", at=at
            )
            envelope = {
                "Type": "Notification",
                "MessageId": "bench",
                "TopicArn": outputs["AlarmsTopicArn"],
                "Subject": subject,
                "Message": json.dumps(message),
            }
            return sns_lambda_event(envelope, outputs["AlarmsTopicArn"] + ":bench")

        event_file = workdir / "alarm.json"

        def fresh_event() -> None:
            event_file.write_text(json.dumps(sns_event("ALARM")))

        fresh_event()
        ops_import, ops_first = _cold(COLD_OPSBOT, env, str(event_file), fresh_event)
        floor_import, floor_first = _cold(COLD_FLOOR, env, str(event_file))

        sys.path.insert(0, str(ROOT))
        from chalicelib.handlers.alarms import alarm_notification as handler

        # made before the clock starts; alternating ALARM and OK, each a new state change
        events = iter([sns_event("ALARM" if n % 2 else "OK") for n in range(WARM_RUNS + 2)])

        def opsbot_event() -> None:
            handler(next(events), None)

        ecs = boto3.client("ecs", region_name="us-east-1")
        aas = boto3.client("application-autoscaling", region_name="us-east-1")

        def floor_event() -> None:
            svc = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
            aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=["service/demo/web"])
            ecs.update_service(cluster="demo", service="web", desiredCount=svc["desiredCount"])

        ops_warm = _warm(opsbot_event)
        floor_warm = _warm(floor_event)
    finally:
        server.stop()

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    print(
        f"opsbot bench: {cpu}, {os.cpu_count()} cores, Python {sys.version.split()[0]}; "
        f"median of {COLD_RUNS} cold / {WARM_RUNS} warm runs, against moto on loopback\n"
    )
    print("| measurement | opsbot (ms) | floor: bare boto3 (ms) | overhead (ms) |")
    print("|---|---:|---:|---:|")
    rows = [
        ("cold: import the handler module", ops_import, floor_import),
        ("cold: first alarm event (clients + policy + AWS calls)", ops_first, floor_first),
        (
            "warm: one alarm event -> scale (incl. cooldown, lock, audit, notify)",
            ops_warm,
            floor_warm,
        ),
    ]
    for name, ours, floor in rows:
        overhead = 1000 * (statistics.median(ours) - statistics.median(floor))
        print(f"| {name} | {_ms(ours)} | {_ms(floor)} | {overhead:+.1f} |")
    print(
        "\nThe floor makes only the ECS/Application Auto Scaling calls; opsbot adds its DynamoDB "
        "cooldown, lock and audit writes and the SNS notification, each a real HTTP call here."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
