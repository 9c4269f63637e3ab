"""``make run``: the whole backend on an embedded AWS, in one foreground process.

Starts moto in server mode on 127.0.0.1, deploys ``infra/template.yaml`` through its
CloudFormation API, seeds the demo environment, installs the ECS rollout and ACM validation
simulators, serves the Chalice app's REST API and feeds its event sources, then waits for Ctrl-C.
Everything runs in this process, so stopping it leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
REGION = "us-east-1"
STACK_NAME = "opsbot-local"
NAME_PREFIX = "opsbot"
LOCAL_ADMIN = "local-admin"

log = logging.getLogger("opsbot.local")


@dataclass
class LocalSettings:
    """What ``make run`` reads from its environment."""

    aws_port: int
    api_port: int
    api_token: str
    token_generated: bool
    slack_signing_secret: str
    secret_generated: bool
    state_dir: Path
    rollout_seconds: float
    acm_seconds: float
    deploy_timeout_seconds: int

    @classmethod
    def from_env(cls) -> LocalSettings:
        """Read settings; generate the token and signing secret when unset."""
        token = os.environ.get("OPSBOT_API_TOKEN", "")
        secret = os.environ.get("OPSBOT_SLACK_SIGNING_SECRET", "")
        return cls(
            aws_port=int(os.environ.get("OPSBOT_AWS_PORT", "4566")),
            api_port=int(os.environ.get("OPSBOT_API_PORT", "8000")),
            api_token=token or f"opsbot-{secrets.token_urlsafe(24)}",
            token_generated=not token,
            slack_signing_secret=secret or secrets.token_hex(16),
            secret_generated=not secret,
            state_dir=Path(os.environ.get("OPSBOT_LOCAL_DIR", str(ROOT / ".opsbot" / "local"))),
            rollout_seconds=float(os.environ.get("OPSBOT_LOCAL_ROLLOUT_SECONDS", "3")),
            acm_seconds=float(os.environ.get("OPSBOT_LOCAL_ACM_SECONDS", "2")),
            deploy_timeout_seconds=int(os.environ.get("OPSBOT_DEPLOY_TIMEOUT_SECONDS", "900")),
        )


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _running_stack(state_dir: Path) -> dict[str, Any] | None:
    """What a live stack using this state directory wrote about itself, if one runs."""
    try:
        info = dict(json.loads((state_dir / "stack.json").read_text()))
    except (OSError, ValueError):
        return None
    return info if pid_alive(int(info.get("pid", 0))) and info.get("pid") != os.getpid() else None


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def aws_env(endpoint: str) -> dict[str, str]:
    """The environment that points boto3 at the embedded AWS."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }


def _client(service: str) -> Any:
    import boto3

    return boto3.client(service, region_name=REGION)  # type: ignore[call-overload]


def deploy_template(parameters: dict[str, str]) -> dict[str, str]:
    """Create the stateful stack from infra/template.yaml; its outputs."""
    import warnings

    cfn = _client("cloudformation")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cfn.create_stack(
            StackName=STACK_NAME,
            TemplateBody=(ROOT / "infra" / "template.yaml").read_text(),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        )
    skipped = sorted(
        {m.group(0) for w in caught if (m := re.search(r"AWS::\w+::\w+", str(w.message)))}
    )
    if skipped:
        log.info(
            "moto's CloudFormation skips %s (no local effect; created in AWS)", ", ".join(skipped)
        )
    deadline = time.monotonic() + 60
    while True:
        stack = cfn.describe_stacks(StackName=STACK_NAME)["Stacks"][0]
        status = stack["StackStatus"]
        if status == "CREATE_COMPLETE":
            return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        if (
            status.endswith("FAILED")
            or status.startswith("ROLLBACK")
            or time.monotonic() > deadline
        ):
            raise RuntimeError(
                f"stack {STACK_NAME} ended {status}: {stack.get('StackStatusReason')}"
            )
        time.sleep(0.2)


def app_environment(outputs: dict[str, str], settings: LocalSettings) -> dict[str, str]:
    """The app's environment: the local stage of .chalice/config.json plus the stack outputs."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    env = dict(config.get("environment_variables", {}))
    env.update(config["stages"]["local"].get("environment_variables", {}))
    env.update(
        {
            "OPSBOT_TABLE": outputs["StateTableName"],
            "OPSBOT_WORK_QUEUE": outputs["WorkQueueName"],
            "OPSBOT_WORK_DLQ": outputs["WorkDeadLetterQueueName"],
            "OPSBOT_NOTIFICATIONS_TOPIC_ARN": outputs["NotificationsTopicArn"],
            "OPSBOT_DEPLOY_TIMEOUT_SECONDS": str(settings.deploy_timeout_seconds),
        }
    )
    return env


def _put_secure(ssm: Any, name: str, value: str) -> None:
    ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)


class LocalStack:
    """The running local stack."""

    def __init__(self, settings: LocalSettings) -> None:
        self.settings = settings
        self._stopped = threading.Event()
        self._parts: list[Any] = []

    def start(self) -> dict[str, Any]:
        """Bring everything up; what a control command needs to find it."""
        s = self.settings
        other = _running_stack(s.state_dir)
        if other is not None:
            raise SystemExit(
                f"a local stack is already running from {s.state_dir} (pid {other['pid']}, "
                f"API {other.get('api_url')}): stop it first, or set OPSBOT_LOCAL_DIR"
            )
        for port, what in ((s.aws_port, "OPSBOT_AWS_PORT"), (s.api_port, "OPSBOT_API_PORT")):
            if not _port_free(port):
                raise SystemExit(
                    f"port {port} on 127.0.0.1 is in use: stop what holds it or set {what}"
                )
        endpoint = f"http://127.0.0.1:{s.aws_port}"
        os.environ.update(aws_env(endpoint))
        os.environ.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "false")

        from moto.server import ThreadedMotoServer

        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=s.aws_port, verbose=False)
        moto.start()
        self._parts.append(moto)
        log.info("embedded AWS on %s", endpoint)

        outputs = deploy_template({"NamePrefix": NAME_PREFIX, "WorkerTimeoutSeconds": "5"})
        log.info("deployed infra/template.yaml as stack %s", STACK_NAME)

        from infra.local.seed import seed_demo

        seeded = seed_demo(alarms_topic_arn=outputs["AlarmsTopicArn"], region=REGION)
        log.info("seeded the demo environment")

        from infra.local.sink import SinkServer

        s.state_dir.mkdir(parents=True, exist_ok=True)
        slack_log = s.state_dir / "slack.jsonl"
        slack_log.touch()
        sink = SinkServer(slack_log=slack_log)
        sink.start()
        self._parts.append(sink)

        from infra.local import slack_relay

        slack_relay.install(sink.url)  # response_urls (hooks.slack.com) land in the sink too

        env = app_environment(outputs, s)
        os.environ.update(env)
        prefix = env["OPSBOT_PARAMETER_PREFIX"]
        ssm = _client("ssm")
        digest = hashlib.sha256(s.api_token.encode()).hexdigest()
        _put_secure(ssm, f"{prefix}/api-tokens", json.dumps({digest: LOCAL_ADMIN}))
        _put_secure(ssm, f"{prefix}/slack-webhook-url", f"{sink.url}/slack/webhook")
        _put_secure(ssm, f"{prefix}/slack-signing-secret", s.slack_signing_secret)

        from infra.local.ecs_sim import RolloutSimulator

        events = _client("events")

        def emit(event: dict[str, Any]) -> None:
            events.put_events(
                Entries=[
                    {
                        "Source": event["source"],
                        "DetailType": event["detail-type"],
                        "Detail": json.dumps(event["detail"]),
                        "Resources": event.get("resources", []),
                    }
                ]
            )

        simulator = RolloutSimulator(
            account_id=ACCOUNT, region=REGION, emit=emit, rollout_seconds=s.rollout_seconds
        )
        simulator.install()
        simulator.settle_existing()
        self._parts.append(simulator)
        sink.controls["rollout-fail"] = lambda body: self._rollout_fail(simulator, body)

        from infra.local.acm_sim import AcmSimulator, ListenerCertificates

        listener_certificates = ListenerCertificates()
        listener_certificates.install()
        self._parts.append(listener_certificates)
        acm_simulator = AcmSimulator(
            account_id=ACCOUNT, region=REGION, emit=emit, validation_seconds=s.acm_seconds
        )
        acm_simulator.install()
        self._parts.append(acm_simulator)
        sink.controls["spend"] = self._spend

        sys.path.insert(0, str(ROOT))
        from app import app as chalice_app
        from infra.local.event_sources import EventSources

        sources = EventSources(app=chalice_app, client=_client, region=REGION)
        fed = sources.start()
        self._parts.append(sources)

        from chalice.config import Config

        from infra.local.api_server import create_server

        config = Config(
            chalice_stage="local",
            config_from_disk=json.loads((ROOT / ".chalice" / "config.json").read_text()),
        )
        server = create_server(chalice_app, config, "127.0.0.1", s.api_port)
        thread = threading.Thread(target=server.server.serve_forever, name="api", daemon=True)
        thread.start()
        self._parts.append(server)

        info = {
            "pid": os.getpid(),
            "aws_endpoint": endpoint,
            "api_url": f"http://127.0.0.1:{s.api_port}",
            "sink_url": sink.url,
            "slack_log": str(slack_log),
            "app_env": env,
            "alarms_topic_arn": outputs["AlarmsTopicArn"],
            "seeded": seeded,
            "event_sources": fed,
        }
        (s.state_dir / "stack.json").write_text(json.dumps(info, indent=2))
        return info

    @staticmethod
    def _rollout_fail(simulator: Any, body: dict[str, Any]) -> dict[str, Any]:
        service = str(body["service"])
        cluster = str(body.get("cluster") or "demo")
        found = _client("ecs").describe_services(cluster=cluster, services=[service])["services"]
        if not found:
            raise ValueError(f"no service {service!r} in cluster {cluster!r}")
        simulator.fail_next(cluster, service)
        return {"ok": True, "message": f"the next rollout of {service} in {cluster} will fail"}

    @staticmethod
    def _spend(body: dict[str, Any]) -> dict[str, Any]:
        from infra.local.seed import set_actual_spend

        set_actual_spend(str(body["budget"]), str(body.get("amount")), account_id=ACCOUNT)
        return {
            "ok": True,
            "message": f"budget {body['budget']} actual spend is now {body['amount']} USD",
        }

    def wait(self) -> None:
        """Block until SIGINT/SIGTERM."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self._stopped.set())
        while not self._stopped.wait(0.5):
            pass

    def stop(self) -> None:
        """Stop every part, newest first."""
        for part in reversed(self._parts):
            try:
                if hasattr(part, "server") and hasattr(part, "app_object"):
                    part.server.shutdown()
                    part.server.server_close()
                else:
                    part.stop()
            except Exception:
                log.exception("while stopping %s", type(part).__name__)
        self._parts.clear()


def banner(settings: LocalSettings, info: dict[str, Any]) -> str:
    """What ``make run`` prints when it is ready."""
    token_note = (
        "generated; set OPSBOT_API_TOKEN to choose it"
        if settings.token_generated
        else "from OPSBOT_API_TOKEN"
    )
    secret_note = (
        "generated; set OPSBOT_SLACK_SIGNING_SECRET to choose it"
        if settings.secret_generated
        else "from OPSBOT_SLACK_SIGNING_SECRET"
    )
    api = info["api_url"]
    lines = [
        "",
        "opsbot local stack",
        f"  embedded AWS   {info['aws_endpoint']}  (moto, {REGION}, account {ACCOUNT})",
        f"  REST API       {api}",
        f"  API token      {settings.api_token}  ({token_note})",
        f"  Slack secret   {settings.slack_signing_secret}  ({secret_note})",
        f"  Slack sink     {info['slack_log']}",
        "  event sources  " + "\n                 ".join(info["event_sources"]),
        "",
        "  try:",
        f"    export OPSBOT_API_TOKEN={settings.api_token}",
        f'    curl -s -H "Authorization: Bearer $OPSBOT_API_TOKEN" {api}/services/demo/web',
        '    curl -s -H "Authorization: Bearer $OPSBOT_API_TOKEN" \\',
        f'         -d \'{{"environment":"demo","service":"web","tag":"2.0"}}\' {api}/deployments',
        "",
        f"opsbot ready on {api} (Ctrl-C stops everything)",
    ]
    return "\n".join(lines)


def run() -> int:
    """Run the local stack in the foreground until Ctrl-C."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for noisy in ("werkzeug", "botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("moto").setLevel(logging.ERROR)
    settings = LocalSettings.from_env()
    stack = LocalStack(settings)
    try:
        info = stack.start()
        print(banner(settings, info), flush=True)
        stack.wait()
    finally:
        print("opsbot stopping", flush=True)
        stack.stop()
        _forget_state(settings.state_dir / "stack.json")
    return 0


def _forget_state(state: Path) -> None:
    """Remove stack.json if this process wrote it (never another running stack's)."""
    try:
        mine = json.loads(state.read_text()).get("pid") == os.getpid()
    except (OSError, ValueError):
        return
    if mine:
        state.unlink(missing_ok=True)
