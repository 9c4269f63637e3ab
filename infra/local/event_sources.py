"""Local event sources: deliver SQS, SNS, EventBridge and schedule events to the Chalice handlers.

Each source reads the app's own event-source declarations (``app.event_sources``) and calls the
very handler Lambda would call, with the event shape Lambda sends:

* SQS: long-polls the queue, invokes with up to ``batch_size`` records, deletes what succeeded and
  honours a ``batchItemFailures`` reply (the failed messages stay, become visible again after the
  visibility timeout, and SQS's redrive policy moves them to the DLQ), as Lambda's event source
  mapping does.
* SNS: a bridge SQS queue subscribed to the topic in the embedded AWS; each notification becomes
  a one-record ``aws:sns`` event, as Lambda's SNS subscription delivers it. Like Lambda's
  asynchronous invocation, a failing invocation is retried twice, then dropped (logged).
* EventBridge: a rule with the handler's event pattern in the embedded AWS, targeting a bridge
  queue; each matched event is delivered as EventBridge delivers it (asynchronous retries too).
* Schedules: ``rate(...)`` expressions fire on their period; any scheduled handler can be run
  once on demand (``python -m infra.local tick NAME``).
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("opsbot.local.events")

ACCOUNT = "123456789012"
ASYNC_ATTEMPTS = 3  # Lambda: the first try and two retries


class LambdaContext:
    """The parts of Lambda's context object handlers use."""

    def __init__(self, function_name: str, timeout_seconds: int = 60) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:opsbot-local-{function_name}"
        )
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/opsbot-local-{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the (notional) timeout."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def resolve_handler(handler_string: str) -> Callable[[dict[str, Any], Any], Any]:
    """The callable behind a Chalice handler string such as ``chalicelib.handlers.worker.work``."""
    module_name, _, attr = handler_string.rpartition(".")
    module = importlib.import_module(module_name)
    handler: Callable[[dict[str, Any], Any], Any] = getattr(module, attr)
    return handler


def _iso(ts: float | None = None) -> str:
    when = datetime.fromtimestamp(ts, UTC) if ts is not None else datetime.now(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def sqs_lambda_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One record of an ``aws:sqs`` Lambda event, from a ReceiveMessage result."""
    attrs = {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value["DataType"],
        }
        for name, value in message.get("MessageAttributes", {}).items()
    }
    for value in attrs.values():
        if value["binaryValue"] is None:
            del value["binaryValue"]
        if value["stringValue"] is None:
            del value["stringValue"]
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            k: v
            for k, v in message.get("Attributes", {}).items()
            if k
            in (
                "ApproximateReceiveCount",
                "SentTimestamp",
                "SenderId",
                "ApproximateFirstReceiveTimestamp",
                "MessageGroupId",
                "MessageDeduplicationId",
                "SequenceNumber",
                "AWSTraceHeader",
            )
        },
        "messageAttributes": attrs,
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def sns_lambda_event(envelope: dict[str, Any], subscription_arn: str) -> dict[str, Any]:
    """An ``aws:sns`` Lambda event from the JSON SNS delivers to a subscribed queue."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "Sns": {
                    "Type": envelope.get("Type", "Notification"),
                    "MessageId": envelope["MessageId"],
                    "TopicArn": envelope["TopicArn"],
                    "Subject": envelope.get("Subject"),
                    "Message": envelope["Message"],
                    "Timestamp": envelope.get("Timestamp") or _iso(),
                    "SignatureVersion": envelope.get("SignatureVersion", "1"),
                    "Signature": envelope.get("Signature", "EXAMPLE"),
                    "SigningCertUrl": envelope.get("SigningCertURL", ""),
                    "UnsubscribeUrl": envelope.get("UnsubscribeURL", ""),
                    "MessageAttributes": {
                        k: {"Type": v.get("Type"), "Value": v.get("Value")}
                        for k, v in (envelope.get("MessageAttributes") or {}).items()
                    },
                },
            }
        ]
    }


def scheduled_event(rule_name: str, region: str) -> dict[str, Any]:
    """The event EventBridge sends a scheduled rule's target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{ACCOUNT}:rule/{rule_name}"],
        "detail": {},
    }


def rate_seconds(expression: str) -> float | None:
    """Seconds between runs of ``rate(N unit)``; None for cron expressions."""
    expression = expression.strip()
    if not expression.startswith("rate(") or not expression.endswith(")"):
        return None
    value, unit = expression[5:-1].split()
    seconds = {"minute": 60, "hour": 3600, "day": 86400}[unit.rstrip("s")]
    return int(value) * seconds


class EventSources:
    """Feeds the app's event sources from the embedded AWS until stopped."""

    def __init__(
        self,
        *,
        app: Any,
        client: Callable[[str], Any],
        region: str = "us-east-1",
        run_schedules: bool = True,
    ) -> None:
        self._app = app
        self._client = client
        self._region = region
        self._run_schedules = run_schedules
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

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
        resp = self._client("sqs").receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=max(1, min(10, count)),
            WaitTimeSeconds=1,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(resp.get("Messages", []))

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
            try:
                reply = handler(event, LambdaContext(name))
            except Exception:
                log.exception(
                    "%s raised; the whole batch of %d returns to the queue", name, len(messages)
                )
                continue
            failed = {
                f.get("itemIdentifier")
                for f in (reply or {}).get("batchItemFailures", [])
                if isinstance(reply, dict)
            }
            self._delete(url, [m for m in messages if m["MessageId"] not in failed])

    def _invoke_async(self, name: str, handler: Callable[..., Any], event: dict[str, Any]) -> None:
        for attempt in range(1, ASYNC_ATTEMPTS + 1):
            try:
                handler(event, LambdaContext(name))
                return
            except Exception:
                log.exception("%s failed (attempt %d of %d)", name, attempt, ASYNC_ATTEMPTS)
                if self._stop.wait(attempt):
                    return
        log.error("%s: event dropped after %d attempts", name, ASYNC_ATTEMPTS)

    def _sns_loop(
        self, name: str, handler: Callable[..., Any], url: str, subscription: str
    ) -> None:
        while not self._stop.is_set():
            messages = self._receive(url, 10)
            self._delete(url, messages)
            for message in messages:
                envelope = json.loads(message["Body"])
                self._invoke_async(name, handler, sns_lambda_event(envelope, subscription))

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
                self._invoke_async(name, handler, event)

    def _schedule_loop(self, name: str, handler: Callable[..., Any], period: float) -> None:
        while not self._stop.wait(period):
            self._invoke_async(name, handler, scheduled_event(f"opsbot-local-{name}", self._region))

    def stop(self) -> None:
        """Stop every loop (each finishes its current receive)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=3)


def run_scheduled(app: Any, name: str, region: str = "us-east-1") -> Any:
    """Run one scheduled handler once, as its schedule would; names may be abbreviated."""
    from chalice.app import ScheduledEventConfig

    schedules = [s for s in app.event_sources if isinstance(s, ScheduledEventConfig)]
    matches = [s for s in schedules if s.name == name] or [s for s in schedules if name in s.name]
    if len(matches) != 1:
        known = ", ".join(sorted(s.name for s in schedules)) or "none"
        raise LookupError(
            f"no single scheduled handler matches {name!r} (scheduled handlers: {known})"
        )
    source = matches[0]
    handler = resolve_handler(source.handler_string)
    return handler(
        scheduled_event(f"opsbot-local-{source.name}", region), LambdaContext(source.name)
    )
