"""Game-day faults in opsbot's functions (``python -m infra.local faults``), as AWS inflicts them.

Only invocations the local runtime runs (``lambda_runtime.invocation``: REST requests, event
deliveries, ticks) are touched; the stack's own AWS calls (bookkeeping, seeding, simulators,
control commands) run outside any invocation and never see a fault.

* AWS errors: a ``before-send`` hook on every botocore client answers the HTTP request itself
  with a throttling error or a 503 in the service's protocol (``fault_responses``), before it
  reaches the embedded AWS; botocore parses and retries it as the real thing.
* Crashes: an invocation chosen to crash raises ``LambdaCrash`` from a ``before-call`` hook at a
  random one of its AWS calls (among as many as the function's last whole invocation made); that
  call and every later one is refused. One that makes fewer calls dies just before it returns,
  its work done but its answer lost, as a Lambda that hits its timeout at the end. The event
  sources react as Lambda's do.
* Lost events and duplicates: the event sources ask ``lose`` and ``duplicate`` per delivery.

Each decision draws from its own stream, seeded by (seed, kind, function or source), so a seed
makes a run reproducible. Counters say what was injected and how the event sources reacted.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from infra.local.fault_responses import THROTTLING, UNAVAILABLE, error_response
from infra.local.lambda_runtime import Invocation, LambdaCrash, current

log = logging.getLogger("opsbot.local.faults")

RATES = ("aws_errors", "crashes", "lost_events", "duplicates")
# what was injected, then how the event sources reacted
COUNTERS = (
    *RATES,
    "sqs_redeliveries",
    "async_retries",
    "on_failure",
    "rest_502",
)
# the EventBridge sources whose events are bound for opsbot (the rest are schedules)
LOSABLE_SOURCES = ("aws.ecs", "aws.acm")


@dataclass(frozen=True)
class FaultSettings:
    """The rates (probabilities from 0 to 1) and the seed of the faults in force."""

    aws_errors: float = 0.0
    crashes: float = 0.0
    lost_events: float = 0.0
    duplicates: float = 0.0
    seed: int = 0

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> FaultSettings:
        """Validated settings from a control command's body; a missing rate is 0."""
        rates: dict[str, float] = {}
        for name in RATES:
            value = float(body.get(name) or 0)
            if not 0 <= value <= 1:
                raise ValueError(f"--{name.replace('_', '-')} must be between 0 and 1")
            rates[name] = value
        seed = body.get("seed")
        return cls(**rates, seed=int(seed) if seed is not None else random.randrange(10**6))

    @property
    def active(self) -> bool:
        """Whether any fault is on."""
        return any(getattr(self, name) for name in RATES)

    def describe(self) -> str:
        """One line, as the command prints it."""
        if not self.active:
            return "faults off"
        rates = ", ".join(f"{n.replace('_', '-')} {getattr(self, n):g}" for n in RATES)
        return f"faults on (seed {self.seed}): {rates}"


class Faults:
    """The faults in force in this stack, their decisions and their counters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.settings = FaultSettings()
        self._streams: dict[str, random.Random] = {}
        self._counts: Counter[str] = Counter()
        self._since = time.time()
        self._calls: dict[str, int] = {}  # function -> AWS calls its last whole invocation made
        self._protocols: dict[str, str] = {}  # botocore service id -> resolved protocol

    # -- settings and counters --------------------------------------------------------------

    def configure(self, settings: FaultSettings) -> None:
        """Put ``settings`` in force: fresh streams from its seed, counters from zero."""
        with self._lock:
            self.settings = settings
            self._streams.clear()
            self._counts.clear()
            self._since = time.time()
        log.warning("%s", settings.describe())

    def off(self) -> None:
        """No more faults (the counters of the last setting stay readable)."""
        with self._lock:
            self.settings = FaultSettings()
        log.warning("faults off")

    def count(self, name: str, n: int = 1) -> None:
        """Add to a counter."""
        with self._lock:
            self._counts[name] += n

    def status(self) -> dict[str, Any]:
        """The settings in force and the counters since they were set."""
        with self._lock:
            counts = {name: self._counts[name] for name in COUNTERS}
            since = time.strftime("%H:%M:%S", time.localtime(self._since))
            settings = self.settings
        injected = ", ".join(f"{n.replace('_', '-')} {counts[n]}" for n in RATES)
        reactions = ", ".join(
            f"{n.replace('_', '-')} {counts[n]}" for n in COUNTERS if n not in RATES
        )
        return {
            "settings": asdict(settings),
            "active": settings.active,
            "counts": counts,
            "message": f"{settings.describe()}\ninjected since {since}: {injected}\n"
            f"reactions: {reactions}",
        }

    # -- decisions ---------------------------------------------------------------------------

    def _stream(self, kind: str, key: str) -> random.Random:
        """The decision stream of (seed, kind, key); the caller holds the lock."""
        name = f"{kind}:{key}"
        stream = self._streams.get(name)
        if stream is None:
            stream = self._streams[name] = random.Random(f"{self.settings.seed}:{name}")
        return stream

    def _roll(self, kind: str, key: str, *, counted: bool = True) -> bool:
        """Whether a fault of ``kind`` hits ``key`` now (its stream's next draw)."""
        with self._lock:
            rate = float(getattr(self.settings, kind))
            hit = rate > 0 and self._stream(kind, key).random() < rate
            if hit and counted:
                self._counts[kind] += 1
            return hit

    def _draw(self, kind: str, key: str) -> float:
        with self._lock:
            return self._stream(kind, key).random()

    def lose(self, event: dict[str, Any]) -> bool:
        """Whether this EventBridge event bound for opsbot is lost (schedules never are)."""
        source = str(event.get("source", ""))
        return source in LOSABLE_SOURCES and self._roll("lost_events", source)

    def duplicate(self, function: str) -> bool:
        """Whether this delivery to ``function`` is made a second time."""
        return self._roll("duplicates", function)

    # -- the invocation listener (lambda_runtime.listeners) --------------------------------

    def started(self, invocation: Invocation) -> None:
        """Choose whether (and at which AWS call) this invocation crashes."""
        name = invocation.function
        if self._roll("crashes", name, counted=False):  # counted when it happens
            calls = max(1, self._calls.get(name, 1))
            invocation.crash_at = 1 + int(self._draw("crash_at", name) * calls)

    def returning(self, invocation: Invocation) -> None:
        """An invocation chosen to crash that made fewer calls than its crash point dies now."""
        if invocation.crash_at is not None and not invocation.crashed:
            invocation.crashed = True
            self.count("crashes")
            log.info(  # the runtime's error line reports the crash; this one only when verbose
                "%s crashed before returning, after %d AWS calls",
                invocation.function,
                invocation.aws_calls,
            )
            raise LambdaCrash(f"died before returning, after {invocation.aws_calls} AWS calls")

    def ended(self, invocation: Invocation) -> None:
        """Learn how many AWS calls a whole invocation of this function makes."""
        if not invocation.crashed and invocation.aws_calls:
            self._calls[invocation.function] = invocation.aws_calls

    # -- botocore hooks ------------------------------------------------------------------------

    def install(self) -> None:
        """Hook every botocore client created from now on in this process (idempotent)."""
        from botocore.session import Session

        if getattr(Session.create_client, "_opsbot_faults", None) is self:
            return
        original = Session.create_client
        faults = self

        @functools.wraps(original)
        def create_client(session: Session, *args: Any, **kwargs: Any) -> Any:
            made = original(session, *args, **kwargs)
            faults.hook(made)
            return made

        create_client._opsbot_faults = self  # type: ignore[attr-defined]
        Session.create_client = create_client  # type: ignore[method-assign,assignment]

    def hook(self, client: Any) -> None:
        """Register the fault hooks on one botocore client."""
        events = client.meta.events
        events.register("before-call", self._before_call, unique_id="opsbot-faults-call")
        events.register("before-send", self._before_send, unique_id="opsbot-faults-send")

    def _before_call(self, model: Any, **_: Any) -> None:
        invocation = current()
        if invocation is None:
            return
        service = model.service_model
        self._protocols[service.service_id.hyphenize()] = service.resolved_protocol
        what = f"{service.service_id.hyphenize()}.{model.name}"
        if invocation.crashed:
            raise LambdaCrash(f"already dead; {what} not made")
        invocation.aws_calls += 1
        if invocation.crash_at is not None and invocation.aws_calls >= invocation.crash_at:
            invocation.crashed = True
            self.count("crashes")
            log.info(  # the runtime's error line reports the crash; this one only when verbose
                "%s crashed at its AWS call %d (%s)",
                invocation.function,
                invocation.aws_calls,
                what,
            )
            raise LambdaCrash(f"died at AWS call {invocation.aws_calls} ({what})")

    def _before_send(self, request: Any, event_name: str = "", **_: Any) -> Any:
        invocation = current()
        if invocation is None or not self._roll("aws_errors", invocation.function):
            return None
        service = event_name.split(".")[1] if event_name.count(".") >= 2 else ""
        fault = (
            THROTTLING if self._draw("aws_error_kind", invocation.function) < 0.5 else UNAVAILABLE
        )
        return error_response(self._protocols.get(service, "json"), fault, request.url)
