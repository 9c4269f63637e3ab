"""The work-queue consumer: one discriminated union of messages, partial batch failures.

A message that cannot be parsed will never succeed: it goes straight to the DLQ with its reason
(as a message attribute and in the log). A message whose work fails for another reason is
reported in ``batchItemFailures`` so SQS redelivers it, and only it, until the redrive policy
moves it to the DLQ.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.core.invocation import as_function
from chalicelib.core.names import WORK_QUEUE
from chalicelib.handlers.lazy import wiring, worker

bp = Blueprint(__name__)


@bp.on_sqs_message(queue=WORK_QUEUE, batch_size=10)
def work(event: Any) -> dict[str, Any]:
    """Process a batch from the work queue; reply with the failures only."""
    as_function("work")
    return worker.process_batch(wiring.get_deps(), event.to_dict())
