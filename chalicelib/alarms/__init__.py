"""Alarm reactions: CloudWatch alarm notifications in, bounded and cooled-down actions out.

- ``notification``: the event model of what CloudWatch publishes (metric, metric-math, composite);
- ``reaction``: the rules a notification matches, the reaction each asks for, its cooldown key;
- ``delivery``: SNS records in, each state change processed once (Powertools idempotency);
- ``react``: bounds, cooldown, guard, lock, act;
- ``execute``: one executor per registered action of ``domain.actions``;
- ``guard``: whether a scale-out is held (budgets);
- ``wait``: a reaction that found its target locked retries from the work queue;
- ``explain``: what happened and why, as a notification and an audit entry.
"""

from __future__ import annotations

from chalicelib.alarms.delivery import handle_sns_event
from chalicelib.alarms.notification import AlarmNotification, parse_notification
from chalicelib.alarms.react import handle_notification, react, retry
from chalicelib.alarms.reaction import Reaction, matching_rules

# What alarm reactions call besides their actions' own permissions: the state check of a
# waiting reaction (DescribeAlarms) and the budget guard of scale-outs (ViewBudget).
PERMISSIONS = ("cloudwatch:DescribeAlarms", "budgets:ViewBudget")

__all__ = [
    "PERMISSIONS",
    "AlarmNotification",
    "Reaction",
    "handle_notification",
    "handle_sns_event",
    "matching_rules",
    "parse_notification",
    "react",
    "retry",
]
