"""``make run``: the whole backend on an embedded AWS, in one foreground process.

Starts moto in server mode on 127.0.0.1, deploys ``infra/template.yaml`` through its
CloudFormation API, seeds the demo environment, installs the ECS rollout and ACM validation
simulators, serves the Chalice app's REST API and feeds its event sources, then waits for Ctrl-C.
Everything runs in this process, so stopping it leaves nothing behind.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import signal
import sys
import threading
from typing import Any

from infra.local import lambda_logs, oplog, stack_commands
from infra.local.embedded import aws_env, client
from infra.local.settings import (
    ACCOUNT,
    LOCAL_ADMIN,
    LOCAL_LEAD,
    NAME_PREFIX,
    REGION,
    ROOT,
    STACK_NAME,
    LocalSettings,
)
from infra.local.state import forget_state, port_free, running_stack, write_state
from infra.local.template import app_environment, deploy_template, on_failure_destinations
from opsbot_cli.config import PROFILE_NAME, write_profile

log = logging.getLogger("opsbot.local")


class LocalStack:
    """The running local stack: its parts, started in order and stopped newest first."""

    def __init__(self, settings: LocalSettings) -> None:
        self.settings = settings
        self._stopped = threading.Event()
        self._parts: list[Any] = []

    def start(self) -> dict[str, Any]:
        """Bring everything up; what a control command needs to find it."""
        s = self.settings
        self._refuse_to_clash()
        self._refuse_a_bad_policy()
        endpoint = f"http://127.0.0.1:{s.aws_port}"
        os.environ.update(aws_env(endpoint))
        os.environ.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "false")
        self._start_moto()
        log.info("embedded AWS on %s", endpoint)

        outputs = deploy_template({"NamePrefix": NAME_PREFIX, "WorkerTimeoutSeconds": "5"})
        log.info("deployed infra/template.yaml as stack %s", STACK_NAME)

        from infra.local.seed import seed_demo

        seeded = seed_demo(alarms_topic_arn=outputs["AlarmsTopicArn"], region=REGION)
        log.info("seeded the demo environment")

        sink = self._start_sink()
        env = app_environment(outputs, s)
        env["OPSBOT_SLACK_API_URL"] = f"{sink.url}/api/"  # the sink stands in for slack.com
        os.environ.update(env)
        self._put_secrets(env["OPSBOT_PARAMETER_PREFIX"], sink.url)
        self._start_simulators(sink)
        fed = self._start_app(sink)
        api_url = f"http://127.0.0.1:{s.api_port}"
        write_profile(s.state_dir / PROFILE_NAME, url=api_url, token=s.api_token)

        info = {
            "pid": os.getpid(),
            "aws_endpoint": endpoint,
            "api_url": api_url,
            "profile": str(s.state_dir / PROFILE_NAME),
            "sink_url": sink.url,
            "slack_log": str(s.state_dir / "slack.jsonl"),
            "app_env": env,
            "alarms_topic_arn": outputs["AlarmsTopicArn"],
            "seeded": seeded,
            "event_sources": fed,
        }
        write_state(s.state_dir, info)
        return info

    def _refuse_to_clash(self) -> None:
        s = self.settings
        other = running_stack(s.state_dir)
        if other is not None:
            raise SystemExit(
                f"a local stack is already running from {s.state_dir} (pid {other['pid']}, "
                f"API {other.get('api_url')}): stop it first, or set OPSBOT_LOCAL_DIR"
            )
        for port, what in ((s.aws_port, "OPSBOT_AWS_PORT"), (s.api_port, "OPSBOT_API_PORT")):
            if not port_free(port):
                raise SystemExit(
                    f"port {port} on 127.0.0.1 is in use: stop what holds it or set {what}"
                )

    def _refuse_a_bad_policy(self) -> None:
        """Stop before anything starts on a policy opsbot refuses: every request would answer
        ``policy_invalid``, so say it once, here, naming the file and what is wrong."""
        from chalicelib.core.errors import PolicyError
        from chalicelib.core.settings import policy_path
        from chalicelib.domain.policy import load_policy_file

        try:
            load_policy_file(policy_path())
        except PolicyError as exc:
            raise SystemExit(f"the policy is invalid, opsbot not started: {exc.message}") from None

    def _start_moto(self) -> None:
        from moto.server import ThreadedMotoServer

        from infra.local import ddb_atomic
        from infra.local.cloudtrail import Trail

        ddb_atomic.install()  # conditional writes atomic, as DynamoDB makes them
        trail = Trail()  # every write call, from anyone, as a CloudTrail management event
        trail.install()
        self._parts.append(trail)
        moto = ThreadedMotoServer(
            ip_address="127.0.0.1", port=self.settings.aws_port, verbose=False
        )
        moto.start()
        self._parts.append(moto)

    def _start_sink(self) -> Any:
        """The Slack sink and control endpoint; Slack response_urls are relayed to it."""
        from infra.local import slack_relay
        from infra.local.sink import SinkServer
        from infra.local.slack_api import SlackWebApi

        self.settings.state_dir.mkdir(parents=True, exist_ok=True)
        slack_log = self.settings.state_dir / "slack.jsonl"
        web_api = SlackWebApi(
            token=self.settings.slack_bot_token, channel=self.settings.slack_channel
        )
        sink = SinkServer(slack_log=slack_log, web_api=web_api)  # starts slack.jsonl afresh
        sink.start()
        self._parts.append(sink)
        slack_relay.install(sink.url)  # response_urls (hooks.slack.com) land in the sink too
        sink.controls["spend"] = stack_commands.spend
        return sink

    def _put_secrets(self, prefix: str, sink_url: str) -> None:
        """The local admin's token, the Slack webhook (the sink), signing secret, bot token and
        channel, in SSM."""
        s = self.settings
        ssm = client("ssm")
        tokens = {
            hashlib.sha256(s.api_token.encode()).hexdigest(): LOCAL_ADMIN,
            hashlib.sha256(s.lead_token.encode()).hexdigest(): LOCAL_LEAD,
        }
        for name, value in (
            ("api-tokens", json.dumps(tokens)),
            ("slack-webhook-url", f"{sink_url}/slack/webhook"),
            ("slack-signing-secret", s.slack_signing_secret),
            ("slack-bot-token", s.slack_bot_token),
            ("slack-channel", s.slack_channel),
        ):
            ssm.put_parameter(
                Name=f"{prefix}/{name}", Value=value, Type="SecureString", Overwrite=True
            )

    def _start_simulators(self, sink: Any) -> None:
        """ECS rollouts, ACM validation and ELB listener certificates as AWS does them."""
        from infra.local.acm_sim import AcmSimulator
        from infra.local.ecs_sim import RolloutSimulator
        from infra.local.elb_sim import ListenerCertificates

        s = self.settings
        events = client("events")

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
        sink.controls["rollout-fail"] = lambda body: stack_commands.rollout_fail(simulator, body)
        sink.controls["rollout-crashloop"] = lambda body: stack_commands.rollout_crashloop(
            simulator, body
        )

        listener_certificates = ListenerCertificates()
        listener_certificates.install()
        self._parts.append(listener_certificates)
        acm_simulator = AcmSimulator(
            account_id=ACCOUNT, region=REGION, emit=emit, validation_seconds=s.acm_seconds
        )
        acm_simulator.install()
        self._parts.append(acm_simulator)

    def _start_app(self, sink: Any) -> list[str]:
        """Feed the app's event sources and serve its REST API; what is being fed.

        Every invocation runs with its own logger keys, and under the faults in force (none
        until ``faults`` sets some); both are installed before the app makes a logger or client.
        """
        from infra.local import lambda_runtime
        from infra.local.effects import Effects
        from infra.local.faults import Faults
        from infra.local.outcomes import Outcomes

        lambda_logs.install()
        faults = Faults()
        faults.install()
        effects = Effects()
        effects.install()
        lambda_runtime.listeners.append(effects)  # counts invocations per function
        sink.controls["effects"] = lambda body: stack_commands.effects(effects, body)
        lambda_runtime.listeners.append(faults)
        sink.controls["faults"] = lambda body: stack_commands.faults(faults, body)
        outcomes = Outcomes()
        sink.controls["outcome"] = outcomes.query
        operator_log = oplog.OperatorLog()

        def posted(record: dict[str, Any], input_id: str) -> None:
            outcomes.posted(record, input_id)
            operator_log.post(record)

        sink.on_post = posted

        sys.path.insert(0, str(ROOT))
        from app import app as chalice_app
        from infra.local.event_sources import EventSources

        sources = EventSources(
            app=chalice_app,
            client=client,
            region=REGION,
            faults=faults,
            destinations=on_failure_destinations(),
            on_outcome=outcomes.ended,
            async_concurrency=self.settings.async_concurrency,
        )
        fed = sources.start()
        self._parts.append(sources)
        sink.controls["tick"] = lambda body: stack_commands.tick(sources, outcomes, body)

        from chalice.config import Config

        from infra.local.api import ApiServer

        config = Config(
            chalice_stage="local",
            config_from_disk=json.loads((ROOT / ".chalice" / "config.json").read_text()),
        )
        api = ApiServer(
            chalice_app, config, self.settings.api_port, on_crash=lambda: faults.count("rest_502")
        )
        api.start()
        self._parts.append(api)
        return fed

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
    lead_note = (
        "generated; set OPSBOT_LEAD_TOKEN to choose it"
        if settings.lead_token_generated
        else "from OPSBOT_LEAD_TOKEN"
    )
    api = info["api_url"]
    lines = [
        "",
        "opsbot local stack",
        f"  embedded AWS   {info['aws_endpoint']}  (moto, {REGION}, account {ACCOUNT})",
        f"  REST API       {api}",
        f"  API token      {settings.api_token}  ({token_note})",
        f"  dashboard      {api}/ui#token={settings.api_token}",
        f"  lead's token   {settings.lead_token}  ({LOCAL_LEAD}: approves in prod; {lead_note})",
        f"  Slack secret   {settings.slack_signing_secret}  ({secret_note})",
        f"  Slack sink     {info['slack_log']}",
        f"  Slack bot      {settings.slack_bot_token} in {settings.slack_channel}"
        f"  (chat.postMessage at {info['sink_url']}/api/: alarm follow-ups reply in threads)",
        "  event sources  " + "\n                 ".join(info["event_sources"]),
        "",
        f"  CLI profile    {info['profile']}  (the local admin, for .venv/bin/opsbot)",
        "",
        "  try:",
        "    .venv/bin/opsbot status",
        "    .venv/bin/opsbot deploy web 2.0 --wait",
        "    .venv/bin/python -m infra.local alarm web-cpu-high ALARM",
        "    # prod waits for a second person: the lead (token above) approves",
        "    .venv/bin/opsbot deploy web 2.0 --env prod",
        f"    OPSBOT_API_TOKEN={settings.lead_token} .venv/bin/opsbot approve ID --wait",
        "",
        f"opsbot ready on {api} (Ctrl-C stops everything)",
    ]
    return "\n".join(lines)


def run() -> int:
    """Run the local stack in the foreground until Ctrl-C."""
    oplog.configure()  # one line per event; OPSBOT_LOCAL_VERBOSE=1 shows everything
    settings = LocalSettings.from_env()
    stack = LocalStack(settings)
    try:
        info = stack.start()
        print(banner(settings, info), flush=True)
        stack.wait()
    finally:
        print("opsbot stopping", flush=True)
        stack.stop()
        forget_state(settings.state_dir, also=(PROFILE_NAME,))
        # The process ends next: its final garbage collection would walk moto's and botocore's
        # whole heap (over a second) to free memory the exit frees anyway.
        gc.freeze()
    return 0
