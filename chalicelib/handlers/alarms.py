"""SNS handler: CloudWatch alarm notifications from the alarms topic."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.core.invocation import as_function
from chalicelib.core.names import ALARMS_TOPIC
from chalicelib.core.observability import begin
from chalicelib.handlers.lazy import alarms, wiring

bp = Blueprint(__name__)


@bp.on_sns_message(topic=ALARMS_TOPIC)
def alarm_notification(event: Any) -> dict[str, Any]:
    """React to each alarm notification once; a malformed one is logged and skipped."""
    as_function("alarm_notification")
    begin(getattr(event.context, "aws_request_id", None))
    return alarms.handle_sns_event(wiring.get_deps(), event.to_dict(), context=event.context)
