"""SNS handler: CloudWatch alarm notifications from the alarms topic."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.core.names import ALARMS_TOPIC

bp = Blueprint(__name__)


@bp.on_sns_message(topic=ALARMS_TOPIC)
def alarm_notification(event: Any) -> dict[str, Any]:
    """React to each alarm notification; a malformed one is logged and skipped."""
    from chalicelib.alarms import handle_sns_event
    from chalicelib.handlers.wiring import get_deps

    return handle_sns_event(get_deps(), event.to_dict())
