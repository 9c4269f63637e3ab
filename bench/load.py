"""``make load``: 1,000 REST requests through the local stack with faults on, then the audit.

Starts its own local stack (``python -m infra.local run`` on free ports, its own state
directory), turns faults on (``python -m infra.local faults``; seeded), drives a seeded mix of
deploys by tag, scales (some outside the bounds), rollbacks and reads across the demo services
with bounded client concurrency, retries a share of the POSTs with the same Idempotency-Key,
storms the ``web-cpu-high`` alarm, then turns faults off, waits until every deployment is
terminal (the 120 s deploy timeout plus a margin) and checks the outcome against what the
embedded AWS says (``bench.load_report``). Writes ``bench/load.json`` and prints a table.

    .venv/bin/python -m bench.load [--requests 1000] [--concurrency 16] [--seed 8] ...
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench.load_report import Outcome, analyse, table
from infra.local.launch import Launched, launch

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "load-admin-token"
READY_TIMEOUT = 180
# what the demo seeds (CONTRACT.md): tags per repository, bounds per service
TAGS = {"web": ("1.0", "1.1", "2.0"), "api": ("1.0", "2.0")}
BOUNDS = {"web": (1, 6), "api": (2, 4)}
TERMINAL = {"succeeded", "failed", "rolled_back", "rejected", "denied", "expired"}


@dataclass
class Stack(Launched):
    """A local stack this harness started."""

    output: list[str] = field(default_factory=list)

    def control(self, *args: str) -> str:
        """``python -m infra.local ARGS`` against this stack; its output (raises on failure)."""
        done = self.run_control(*args, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"infra.local {' '.join(args)}: {done.stderr or done.stdout}")
        return done.stdout

    def endpoint(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """A command on the stack's control endpoint (what ``python -m infra.local`` posts)."""
        info = json.loads((self.state_dir / "stack.json").read_text())
        request = urllib.request.Request(
            f"{info['sink_url']}/_control/{name}",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as resp:
            return dict(json.loads(resp.read()))


@contextmanager
def local_stack(rollout_seconds: str) -> Iterator[Stack]:
    """Start ``python -m infra.local run`` as a user would; stop it with Ctrl-C. Its output goes
    to ``stack.log`` in its state directory."""
    state_dir = Path(tempfile.mkdtemp(prefix="opsbot-load-"))
    with (
        (state_dir / "stack.log").open("w") as log,
        launch(
            state_dir,
            token=TOKEN,
            signing_secret="load-signing-secret",
            rollout_seconds=rollout_seconds,
            on_line=log.write,
            ready_timeout=READY_TIMEOUT,
            stop_timeout=30,
        ) as up,
    ):
        yield Stack(up.api_url, up.aws_url, up.state_dir, up.env)


# -- the plan --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One logical request of the plan."""

    kind: str  # deploy | scale | rollback | read_deployment | read_service | read_audit
    service: str
    value: str = ""  # the tag, the desired count
    pick: float = 0.0  # which earlier deployment a rollback or a read names
    key: str = ""  # Idempotency-Key of a POST
    retry: bool = False  # the client sends it again with the same key


def plan(count: int, seed: int, retry_rate: float) -> list[Step]:
    """A seeded mix: 30% deploys, 20% scales, 10% rollbacks, 40% reads."""
    rng = random.Random(f"load:{seed}")
    steps: list[Step] = []
    for _ in range(count):
        service = rng.choice(("web", "web", "api"))
        roll = rng.random()
        pick = rng.random()
        key = str(uuid.UUID(int=rng.getrandbits(128)))
        retry = rng.random() < retry_rate
        if roll < 0.30:
            tag = rng.choice(TAGS[service]) if rng.random() > 0.03 else "9.9"  # 404: no such tag
            steps.append(Step("deploy", service, tag, pick, key, retry))
        elif roll < 0.50:
            low, high = BOUNDS[service]
            desired = rng.randint(low - 1, high + 1)  # the ends are outside the bounds: 400
            steps.append(Step("scale", service, str(desired), pick, key, retry))
        elif roll < 0.60:
            steps.append(Step("rollback", service, "", pick, key, retry))
        elif roll < 0.75:
            steps.append(Step("read_deployment", service, "", pick))
        elif roll < 0.93:
            steps.append(Step("read_service", service))
        else:
            steps.append(Step("read_audit", service))
    return steps


# -- the client ------------------------------------------------------------------------------


@dataclass
class Answer:
    """One HTTP exchange."""

    step: int
    kind: str
    service: str
    method: str
    path: str
    status: int  # 0: no answer (connection error or client timeout)
    seconds: float
    body: Any = None
    request_id: str = ""
    error: str = ""
    key: str = ""
    repeat: bool = False  # the client's retry with the same Idempotency-Key


class Client:
    """The REST client: a session per thread, the accepted deployments so far."""

    def __init__(self, api_url: str, timeout: float) -> None:
        self.api_url = api_url
        self.timeout = timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self.deployments: list[str] = []  # accepted, in the order they were answered

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers["Authorization"] = f"Bearer {TOKEN}"
        return session

    def send(self, index: int, step: Step, method: str, path: str, **kwargs: Any) -> Answer:
        """One request; never raises."""
        headers = {"Idempotency-Key": step.key} if method == "POST" and step.key else {}
        started = time.perf_counter()
        try:
            resp = self._session().request(
                method, f"{self.api_url}{path}", headers=headers, timeout=self.timeout, **kwargs
            )
        except requests.RequestException as exc:
            self._local.session = None
            return Answer(
                index,
                step.kind,
                step.service,
                method,
                path,
                0,
                time.perf_counter() - started,
                error=type(exc).__name__,
                key=step.key,
            )
        seconds = time.perf_counter() - started
        try:
            body = resp.json()
        except ValueError:
            body = {"raw": resp.text[:200]}
        answer = Answer(
            index,
            step.kind,
            step.service,
            method,
            path,
            resp.status_code,
            seconds,
            body,
            resp.headers.get("x-amzn-RequestId", ""),
            key=step.key if method == "POST" else "",
        )
        if resp.status_code == 202 and isinstance(body, dict) and body.get("id"):
            with self._lock:
                if body["id"] not in self.deployments:
                    self.deployments.append(str(body["id"]))
        return answer

    def earlier(self, pick: float) -> str | None:
        """An accepted deployment, chosen by ``pick`` among those so far."""
        with self._lock:
            if not self.deployments:
                return None
            return self.deployments[int(pick * len(self.deployments))]


def run_step(client: Client, index: int, step: Step) -> list[Answer]:
    """The HTTP exchanges of one step (two when the client retries it)."""
    if step.kind == "deploy":
        body: dict[str, Any] = {"environment": "demo", "service": step.service, "tag": step.value}
        call: tuple[str, str, dict[str, Any]] = ("POST", "/deployments", {"json": body})
    elif step.kind == "scale":
        path = f"/services/demo/{step.service}/scale"
        call = ("POST", path, {"json": {"desired": int(step.value), "reason": "load test"}})
    elif step.kind == "rollback":
        target = client.earlier(step.pick) or "dep-none"
        call = ("POST", f"/deployments/{target}/rollback", {"json": {"reason": "load test"}})
    elif step.kind == "read_deployment":
        call = ("GET", f"/deployments/{client.earlier(step.pick) or 'dep-none'}", {})
    elif step.kind == "read_service":
        call = ("GET", f"/services/demo/{step.service}", {})
    else:
        call = ("GET", f"/audit?environment=demo&service={step.service}&limit=20", {})
    method, path, kwargs = call
    answers = [client.send(index, step, method, path, **kwargs)]
    if step.retry and method == "POST":
        again = client.send(index, step, method, path, **kwargs)
        again.repeat = True
        answers.append(again)
    return answers


def storm_plan(alarms: int, rollout_fails: int, seed: int) -> list[tuple[str, ...]]:
    """The control commands played during the drive: the alarm alternating ALARM and OK, and
    now and then a rollout that will fail (its deploy is then rolled back), in a seeded order."""
    rng = random.Random(f"storm:{seed}")
    commands: list[tuple[str, ...]] = [
        # --wait 0: publish and go on, as before the command learned to report outcomes
        ("alarm", "web-cpu-high", "ALARM" if n % 2 == 0 else "OK", "--wait", "0")
        for n in range(alarms)
    ]
    for _ in range(rollout_fails):
        commands.insert(
            rng.randrange(len(commands) + 1), ("rollout-fail", rng.choice(("web", "api")))
        )
    return commands


def storm(
    stack: Stack, commands: list[tuple[str, ...]], spacing: float, stop: threading.Event
) -> list[dict[str, Any]]:
    """Play ``commands`` (``python -m infra.local ...``), one every ``spacing`` seconds."""
    played = []
    for command in commands:
        started = time.monotonic()
        try:
            said = stack.control(*command).strip()
            played.append({"command": " ".join(command), "at": time.time(), "said": said})
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            played.append({"command": " ".join(command), "at": time.time(), "error": str(exc)})
        if stop.wait(max(0.0, spacing - (time.monotonic() - started))):
            break
    return played


def drive(
    stack: Stack,
    steps: list[Step],
    *,
    concurrency: int,
    rate: float,
    commands: list[tuple[str, ...]],
    timeout: float,
) -> tuple[Client, list[Answer], list[dict[str, Any]], float]:
    """Send the plan, ``rate`` steps a second at most and ``concurrency`` at a time, while the
    storm plays its commands spread over the same time."""
    client = Client(stack.api_url, timeout)
    stop = threading.Event()
    played: list[dict[str, Any]] = []
    spacing = len(steps) / rate / max(1, len(commands))
    storm_thread = threading.Thread(
        target=lambda: played.extend(storm(stack, commands, spacing, stop)), daemon=True
    )
    started = time.monotonic()
    storm_thread.start()

    def paced(pair: tuple[int, Step]) -> list[Answer]:
        index, step = pair
        time.sleep(max(0.0, started + index / rate - time.monotonic()))
        return run_step(client, index, step)

    answers: list[Answer] = []
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for done in pool.map(paced, enumerate(steps)):
            answers.extend(done)
    stop.set()
    storm_thread.join(timeout=120)
    return client, answers, played, time.monotonic() - started


# -- the end ---------------------------------------------------------------------------------


def deployment_ids(stack: Stack) -> list[str]:
    """Every deployment the state table holds (also those whose request was answered 502)."""
    ddb = stack.aws("dynamodb")
    ids: list[str] = []
    kwargs: dict[str, Any] = {
        "TableName": "opsbot-state",
        "FilterExpression": "begins_with(pk, :p)",
        "ExpressionAttributeValues": {":p": {"S": "DEP#"}},
        "ProjectionExpression": "pk",
    }
    while True:
        page = ddb.scan(**kwargs)
        ids += [item["pk"]["S"].removeprefix("DEP#") for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            return sorted(set(ids))
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def read_deployments(stack: Stack, ids: list[str]) -> dict[str, dict[str, Any] | None]:
    """Each deployment as ``GET /deployments/{id}`` answers it (None: 404)."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    found: dict[str, dict[str, Any] | None] = {}
    for deployment_id in ids:
        for _ in range(5):
            resp = session.get(f"{stack.api_url}/deployments/{deployment_id}", timeout=30)
            if resp.status_code in (200, 404):
                break
            time.sleep(1)
        found[deployment_id] = resp.json() if resp.status_code == 200 else None
    return found


def drain(stack: Stack, known: list[str], deadline_s: float) -> dict[str, dict[str, Any] | None]:
    """Wait until every deployment is terminal (or the deadline); the last reading."""
    end = time.monotonic() + deadline_s
    records: dict[str, dict[str, Any] | None] = {}
    while True:
        ids = sorted(set(known) | set(deployment_ids(stack)))
        unsettled = [i for i in ids if (r := records.get(i)) is None or r["status"] not in TERMINAL]
        records.update(read_deployments(stack, unsettled))
        open_ = [i for i, r in records.items() if r is not None and r["status"] not in TERMINAL]
        print(f"  {len(records)} deployments, {len(open_)} not terminal", flush=True)
        if not open_ or time.monotonic() > end:
            return records
        time.sleep(5)


def ecs_now(stack: Stack) -> dict[str, Any]:
    """What the embedded AWS says: each demo service, and the revisions opsbot registered."""
    ecs = stack.aws("ecs")
    services = {
        s["serviceName"]: {
            "taskDefinition": s["taskDefinition"],
            "desiredCount": s["desiredCount"],
            "deployments": [
                {"id": d["id"], "status": d["status"], "taskDefinition": d["taskDefinition"]}
                for d in s["deployments"]
            ],
        }
        for s in ecs.describe_services(cluster="demo", services=["web", "api"])["services"]
    }
    registered: list[dict[str, Any]] = []
    for family in ("web", "api"):
        kwargs: dict[str, Any] = {"familyPrefix": family}
        while True:
            page = ecs.list_task_definitions(**kwargs)
            for arn in page["taskDefinitionArns"]:
                got = ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"])
                tags = {t["key"]: t["value"] for t in got.get("tags", [])}
                registered.append({"arn": arn, "deployment": tags.get("opsbot:deployment")})
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
    return {"services": services, "registered": registered}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--aws-errors", type=float, default=0.05)
    parser.add_argument("--crashes", type=float, default=0.05)
    parser.add_argument("--lost-events", type=float, default=0.10)
    parser.add_argument("--duplicates", type=float, default=0.10)
    parser.add_argument("--retry-rate", type=float, default=0.10, help="POSTs sent twice")
    parser.add_argument("--rate", type=float, default=4.0, help="requests started per second")
    parser.add_argument("--alarms", type=int, default=60, help="alarm notifications published")
    parser.add_argument("--rollout-fails", type=int, default=12, help="rollouts made to fail")
    parser.add_argument("--drain-seconds", type=float, default=180, help="deploy timeout + margin")
    parser.add_argument("--client-timeout", type=float, default=60)
    parser.add_argument("--rollout-seconds", default="1", help="local ECS rollout duration")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "load.json")
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]

    rates = {
        "aws_errors": args.aws_errors,
        "crashes": args.crashes,
        "lost_events": args.lost_events,
        "duplicates": args.duplicates,
    }
    steps = plan(args.requests, args.seed, args.retry_rate)
    began = time.monotonic()
    print("starting the local stack ...", flush=True)
    with local_stack(args.rollout_seconds) as stack:
        print(f"  ready in {time.monotonic() - began:.0f} s; state in {stack.state_dir}")
        stack.endpoint("effects", {"reset": True})
        flags = [f"--{k.replace('_', '-')}={v}" for k, v in rates.items()]
        print(stack.control("faults", *flags, f"--seed={args.seed}").splitlines()[0])
        print(f"driving {len(steps)} requests, {args.concurrency} at a time, and the alarms ...")
        client, answers, played, drove = drive(
            stack,
            steps,
            concurrency=args.concurrency,
            rate=args.rate,
            commands=storm_plan(args.alarms, args.rollout_fails, args.seed),
            timeout=args.client_timeout,
        )
        injected = stack.endpoint("faults", {})["counts"]
        print(stack.control("faults", "off").strip().splitlines()[0])
        print(f"  drove in {drove:.0f} s; waiting for every deployment to end ...", flush=True)
        drain_began = time.monotonic()
        records = drain(stack, client.deployments, args.drain_seconds)
        drained = time.monotonic() - drain_began
        time.sleep(3)  # the last events in flight
        effects = stack.endpoint("effects", {})
        outcome = Outcome(
            rates=rates,
            seed=args.seed,
            steps=len(steps),
            concurrency=args.concurrency,
            answers=[a.__dict__ for a in answers],
            accepted=client.deployments,
            records=records,
            effects=effects,
            ecs=ecs_now(stack),
            storm=played,
            injected=injected,
            timings={"drive_s": drove, "drain_s": drained},
        )
    report = analyse(outcome)
    report["wall_s"] = round(time.monotonic() - began, 1)
    args.out.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n")
    print(table(report))
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
