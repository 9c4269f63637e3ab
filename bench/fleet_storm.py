"""``make fleet``'s storm (``bench.fleet``): CloudWatch's ALARM notifications published on a
schedule, a few at a time, and the wait until opsbot has handled every one of them."""

from __future__ import annotations

import json
import random
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from bench import fleet_world as world
from bench.fleet_report import Published
from bench.load import Stack
from infra.local.alarm_notice import alarm_notification, default_reason


class Storm:
    """Publishes the notifications on a schedule, a few at a time; remembers what it sent."""

    def __init__(self, stack: Stack, topic: str, clients: dict[str, world.Client]) -> None:
        self.sns = stack.aws("sns")
        self.topic = topic
        self.clients = clients  # environment -> its member account's clients
        self.sent: list[Published] = []
        self.failed: list[str] = []
        self._lock = threading.Lock()

    def plan(
        self,
        fleet: list[world.Member],
        *,
        seconds: float,
        duplicates: float,
        seed: int,
    ) -> list[tuple[float, world.Member, str, bool]]:
        """(offset, member, service, duplicate) in publish order: every service once at a
        random moment of the storm, and a share of them once more a little later."""
        rng = random.Random(f"fleet:{seed}")
        first = [(rng.uniform(0, seconds * 0.9), m, s, False) for m in fleet for s in m.services]
        again = [
            (min(seconds, at + rng.uniform(0.05, seconds * 0.1)), m, s, True)
            for at, m, s, _ in rng.sample(first, round(duplicates * len(first)))
        ]
        return sorted(first + again, key=lambda x: x[0])

    def publish(
        self, began: float, step: tuple[float, world.Member, str, bool], message: dict[str, Any]
    ) -> None:
        """One publish at its moment: the alarm's state set in its account (the first time),
        then CloudWatch's notification to the alarms topic."""
        offset, member, service, duplicate = step
        time.sleep(max(0.0, began + offset - time.monotonic()))
        try:
            if not duplicate:
                self.clients[member.environment]("cloudwatch").set_alarm_state(
                    AlarmName=member.alarm(service),
                    StateValue="ALARM",
                    StateReason=message["NewStateReason"],
                )
            at = time.time()
            sent = self.sns.publish(
                TopicArn=self.topic,
                Subject=f'ALARM: "{member.alarm(service)}" in {message["Region"]}'[:100],
                Message=json.dumps(message),
            )
        except Exception as exc:  # a publish that failed is reported, not retried
            with self._lock:
                self.failed.append(f"{member.alarm(service)}: {exc}")
            return
        with self._lock:
            self.sent.append(
                Published(sent["MessageId"], member.environment, service, at, duplicate)
            )


def notifications(
    fleet: list[world.Member], alarms: dict[str, dict[str, dict[str, Any]]], now: datetime
) -> dict[tuple[str, str], dict[str, Any]]:
    """CloudWatch's ALARM notification of every service's alarm (one state change each)."""
    out = {}
    pairs = [(member, service) for member in fleet for service in member.services]
    for n, (m, s) in enumerate(pairs):
        alarm = alarms[m.environment][s]
        at = now + timedelta(milliseconds=n)
        _, message = alarm_notification(
            alarm,
            old_state="OK",
            new_state="ALARM",
            reason=default_reason(alarm, "ALARM", at),
            at=at,
        )
        out[(m.environment, s)] = message
    return out


def queued(stack: Stack) -> int:
    """Messages on opsbot's work queue: visible, in flight or delayed (a reaction waiting for a
    lock, a minute's summary of held reactions)."""
    info = json.loads((stack.state_dir / "stack.json").read_text())
    sqs = stack.aws("sqs")
    url = sqs.get_queue_url(QueueName=info["app_env"]["OPSBOT_WORK_QUEUE"])["QueueUrl"]
    names = [
        "ApproximateNumberOf" + n for n in ("Messages", "MessagesNotVisible", "MessagesDelayed")
    ]
    found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(found.get(n, 0)) for n in names)


def settle(stack: Stack, ids: list[str], timeout: float) -> tuple[int, float]:
    """Wait until every published notification has been handled and the work queue is empty
    (what a reaction left for later, done), or the timeout: how many notifications were
    handled, and how long it took."""
    began = time.monotonic()
    quiet = 0
    while True:
        answer = stack.endpoint("outcome", {"inputs": ids})
        done = sum(1 for e in answer["ended"].values() if e is not None)
        waiting = queued(stack)
        quiet = quiet + 1 if done == len(ids) and waiting == 0 else 0
        print(f"  {done} of {len(ids)} notifications handled; {waiting} queued", flush=True)
        if quiet >= 2 or time.monotonic() - began > timeout:
            return done, time.monotonic() - began
        time.sleep(5)
