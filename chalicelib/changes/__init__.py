"""What changed on a service: opsbot's records, CloudTrail and ECS in one feed."""

from chalicelib.changes.feed import (
    DEFAULT_MINUTES,
    MAX_MINUTES,
    changes,
    check_minutes,
    service_changes,
)
from chalicelib.changes.notice import alarm_follow_up, change_line, changes_message

__all__ = [
    "DEFAULT_MINUTES",
    "MAX_MINUTES",
    "alarm_follow_up",
    "change_line",
    "changes",
    "changes_message",
    "check_minutes",
    "service_changes",
]
