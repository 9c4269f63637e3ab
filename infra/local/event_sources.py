"""Local event sources: deliver SQS, SNS, EventBridge and schedule events to the Chalice handlers.

Each source reads the app's own event-source declarations (``app.event_sources``) and calls the
very handler Lambda would call, with the event shape Lambda sends:

* SQS: long-polls the queue, invokes with up to ``batch_size`` records, deletes what succeeded and
  honours a ``batchItemFailures`` reply (the failed messages stay, become visible again after the
  visibility timeout, and SQS's redrive policy moves them to the DLQ), as Lambda's event source
  mapping does. A function error or crash returns the whole batch the same way.
* SNS: a bridge SQS queue subscribed to the topic in the embedded AWS; each notification becomes
  a one-record ``aws:sns`` event, as Lambda's SNS subscription delivers it. Like Lambda's
  asynchronous invocation, a failing invocation is retried twice, then goes to the function's
  on-failure destination if the packaged template gives it one, else is dropped (logged, counted).
* EventBridge: a rule with the handler's event pattern in the embedded AWS, targeting a bridge
  queue; each matched event is delivered as EventBridge delivers it (asynchronous retries too).
* Schedules: ``rate(...)`` expressions fire on their period; any scheduled handler can be run
  once on demand (``python -m infra.local tick NAME``), as an asynchronous invocation too.

Faults (``faults.Faults``) decide which EventBridge events are lost and which deliveries are
made twice; the sources count how they reacted to crashes and failures.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from infra.local.event_shapes import (
    rate_seconds,
    scheduled_event,
    sns_lambda_event,
    sqs_lambda_record,
)
from infra.local.faults import Faults
from infra.local.lambda_runtime import (
    AsyncOutcome,
    LambdaContext,
    LambdaCrash,
    find_schedule,
    invocation,
    invoke_async,
    resolve_handler,
)
from infra.local.settings import ACCOUNT

log = logging.getLogger("opsbot.local.events")


class EventSources:
    """Feeds the app's event sources from the embedded AWS until stopped."""

    def __init__(
        self,
        *,
        app: Any,
        client: Callable[[str], Any],
        region: str = "us-east-1",
        run_schedules: bool = True,
        faults: Faults | None = None,
        destinations: dict[str, str] | None = None,
        on_outcome: Callable[[str, str, AsyncOutcome], None] | None = None,
        async_concurrency: int = 1,
    ) -> None:
        self._app = app
        self._client = client
        self._region = region
        self._run_schedules = run_schedules
        self._faults = faults or Faults()
        self._destinations = destinations or {}
        self._on_outcome = on_outcome  # told how each asynchronous invocation ended
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._polling: set[threading.Thread] = set()  # loops waiting in a receive: no work held
        # asynchronous deliveries in flight at once (Lambda runs them concurrently; 1: in order)
        self._slots = threading.BoundedSemaphore(max(1, async_concurrency))
        self._concurrent = async_concurrency > 1

    # -- setup ---------------------------------------------------------------------------------

    def start(self) -> list[str]:
        """Create the bridges and start one thread per source; what is being fed."""
        from chalice.app import (
            CloudWatchEventConfig,
            ScheduledEventConfig,
            SNSEventConfig,
            SQSEventConfig,
        )

        fed: list[str] = []
        for source in self._app.event_sources:
            handler = resolve_handler(source.handler_string)
            if isinstance(source, SQSEventConfig):
                url = self._client("sqs").get_queue_url(QueueName=source.queue)["QueueUrl"]
                self._spawn(self._sqs_loop, source.name, handler, url, source.batch_size)
                fed.append(f"SQS {source.queue} -> {source.name}")
            elif isinstance(source, SNSEventConfig):
                url, sub = self._bridge_topic(source.topic, source.name)
                self._spawn(self._sns_loop, source.name, handler, url, sub)
                fed.append(f"SNS {source.topic} -> {source.name}")
            elif isinstance(source, ScheduledEventConfig):
                expression = source.schedule_expression
                text = expression if isinstance(expression, str) else expression.to_string()
                period = rate_seconds(text)
                if self._run_schedules and period:
                    self._spawn(self._schedule_loop, source.name, handler, period)
                fed.append(f"schedule {text} -> {source.name}")
            elif isinstance(source, CloudWatchEventConfig):
                url = self._bridge_events(source.name, source.event_pattern)
                self._spawn(self._events_loop, source.name, handler, url)
                fed.append(f"EventBridge {json.dumps(source.event_pattern)} -> {source.name}")
        return fed

    def _spawn(self, target: Callable[..., None], name: str, *args: Any) -> None:
        thread = threading.Thread(
            target=self._guard, args=(target, name, *args), name=f"src-{name}", daemon=True
        )
        thread.start()
        self._threads.append(thread)

    def _guard(self, target: Callable[..., None], name: str, *args: Any) -> None:
        while not self._stop.is_set():
            try:
                target(name, *args)
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("event source %s failed; restarting in 1 s", name)
                self._stop.wait(1)

    def _queue(self, name: str) -> tuple[str, str]:
        sqs = self._client("sqs")
        url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        return url, arn

    def _bridge_topic(self, topic: str, name: str) -> tuple[str, str]:
        url, arn = self._queue(f"opsbot-local-sns-{name}")
        topic_arn = f"arn:aws:sns:{self._region}:{ACCOUNT}:{topic}"
        sub = self._client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
        return url, sub["SubscriptionArn"]

    def _bridge_events(self, name: str, pattern: dict[str, Any]) -> str:
        url, arn = self._queue(f"opsbot-local-events-{name}")
        events = self._client("events")
        rule = f"opsbot-local-{name}"
        events.put_rule(Name=rule, EventPattern=json.dumps(pattern), State="ENABLED")
        events.put_targets(Rule=rule, Targets=[{"Id": "local-bridge", "Arn": arn}])
        return url

    # -- loops ---------------------------------------------------------------------------------

    def _receive(self, url: str, count: int) -> list[dict[str, Any]]:
        # Long polling, as Lambda's pollers do (20 s): a message sent, or one whose visibility
        # timeout or delay ends, is received at once (the embedded SQS wakes the waiting
        # receive), and an idle queue costs one request per 20 s instead of one a second.
        # Stopping does not wait for a receive (only for an invocation): one that returns after
        # ``stop`` hands nothing on, and what it received stays in the queue.
        me = threading.current_thread()
        self._polling.add(me)
        try:
            if self._stop.is_set():
                return []
            resp = self._client("sqs").receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=max(1, min(10, count)),
                WaitTimeSeconds=20,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        finally:
            self._polling.discard(me)
        return [] if self._stop.is_set() else list(resp.get("Messages", []))

    def _delete(self, url: str, messages: list[dict[str, Any]]) -> None:
        sqs = self._client("sqs")
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def _sqs_loop(self, name: str, handler: Callable[..., Any], url: str, batch_size: int) -> None:
        arn = self._client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        while not self._stop.is_set():
            messages = self._receive(url, batch_size)
            if not messages:
                continue
            event = {"Records": [sqs_lambda_record(m, arn, self._region) for m in messages]}
            done = self._invoke_sqs(name, handler, event, messages)
            if self._faults.duplicate(name):  # delivered again, as SQS at least once may
                done |= self._invoke_sqs(name, handler, event, messages)
            self._delete(url, [m for m in messages if m["MessageId"] in done])

    def _invoke_sqs(
        self,
        name: str,
        handler: Callable[..., Any],
        event: dict[str, Any],
        messages: list[dict[str, Any]],
    ) -> set[str]:
        """One invocation with a batch; the ids of the messages it processed."""
        try:
            with invocation(name, input_id=",".join(m["MessageId"] for m in messages)):
                reply = handler(event, LambdaContext(name))
        except Exception:
            log.exception(
                "%s raised; the whole batch of %d returns to the queue", name, len(messages)
            )
            return set()
        except LambdaCrash as crash:
            log.error(
                "%s crashed (%s); the whole batch of %d returns to the queue after its "
                "visibility timeout",
                name,
                crash,
                len(messages),
            )
            self._faults.count("sqs_redeliveries", len(messages))
            return set()
        failed = {
            f.get("itemIdentifier")
            for f in (reply or {}).get("batchItemFailures", [])
            if isinstance(reply, dict)
        }
        return {m["MessageId"] for m in messages if m["MessageId"] not in failed}

    def _invoke_async(
        self, name: str, handler: Callable[..., Any], event: dict[str, Any], input_id: str = ""
    ) -> AsyncOutcome:
        outcome = invoke_async(name, handler, event, self._stop.wait, input_id=input_id)
        if self._on_outcome is not None:
            self._on_outcome(name, input_id, outcome)
        if outcome.attempts > 1:
            self._faults.count("async_retries", outcome.attempts - 1)
        if not outcome.ok and not self._stop.is_set():
            self._faults.count("on_failure")
            destination = self._destinations.get(name)
            if destination:
                log.error(
                    "%s: event sent to its on-failure destination %s after %d attempts: %s",
                    name,
                    destination,
                    outcome.attempts,
                    outcome.reason,
                )
            else:
                log.error(
                    "%s: event dropped after %d attempts (no on-failure destination): %s",
                    name,
                    outcome.attempts,
                    outcome.reason,
                )
        return outcome

    def _deliver(
        self, name: str, handler: Callable[..., Any], event: dict[str, Any], input_id: str
    ) -> None:
        """An asynchronous delivery, made a second time when faults duplicate it; on a thread
        of its own when deliveries run concurrently (waiting for a free slot first)."""
        twice = self._faults.duplicate(name)
        if not self._concurrent:
            self._deliver_now(name, handler, event, input_id, twice)
            return
        self._slots.acquire()
        threading.Thread(
            target=self._deliver_now,
            args=(name, handler, event, input_id, twice, True),
            name=f"async-{name}",
            daemon=True,
        ).start()

    def _deliver_now(
        self,
        name: str,
        handler: Callable[..., Any],
        event: dict[str, Any],
        input_id: str,
        twice: bool,
        slot: bool = False,
    ) -> None:
        try:
            self._invoke_async(name, handler, event, input_id)
            if twice:
                self._invoke_async(name, handler, event, input_id)
        finally:
            if slot:
                self._slots.release()

    def _sns_loop(
        self, name: str, handler: Callable[..., Any], url: str, subscription: str
    ) -> None:
        while not self._stop.is_set():
            messages = self._receive(url, 10)
            self._delete(url, messages)
            for message in messages:
                envelope = json.loads(message["Body"])
                event = sns_lambda_event(envelope, subscription)
                self._deliver(name, handler, event, str(envelope.get("MessageId", "")))

    def _events_loop(self, name: str, handler: Callable[..., Any], url: str) -> None:
        while not self._stop.is_set():
            messages = self._receive(url, 10)
            self._delete(url, messages)
            for message in messages:
                event = json.loads(message["Body"])
                # moto's target delivery drops "account" and adds "ingestion-time";
                # EventBridge delivers the former and never the latter.
                event.pop("ingestion-time", None)
                event.setdefault("account", ACCOUNT)
                if self._faults.lose(event):
                    log.warning("%s: lost %s event %s", name, event.get("source"), event.get("id"))
                    continue
                self._deliver(name, handler, event, str(event.get("id", "")))

    def _schedule_loop(self, name: str, handler: Callable[..., Any], period: float) -> None:
        while not self._stop.wait(period):
            self._invoke_async(name, handler, scheduled_event(f"opsbot-local-{name}", self._region))

    def tick(self, name: str, input_id: str = "") -> AsyncOutcome:
        """Run one scheduled handler once, as its schedule would (LookupError: no such one);
        ``input_id`` names the invocation (its Slack posts carry it)."""
        source = find_schedule(self._app, name)
        handler = resolve_handler(source.handler_string)
        event = scheduled_event(f"opsbot-local-{source.name}", self._region)
        return self._invoke_async(source.name, handler, event, input_id)

    def stop(self) -> None:
        """Stop every loop: each stops once its current receive or invocation returns; this waits
        3 s in all for the invocations (they are daemon threads: a long poll still waiting, or
        an invocation still running then, ends with the process)."""
        self._stop.set()
        deadline = time.monotonic() + 3
        for thread in self._threads:
            if thread not in self._polling:
                thread.join(timeout=max(0.0, deadline - time.monotonic()))
