"""Names of opsbot's own queues and topics, as the event-source decorators need them.

They match the resources infra/template.yaml creates (its NamePrefix parameter, default
``opsbot``); the deployed functions get the same names through their environment.
"""

from __future__ import annotations

import os

_PREFIX = os.environ.get("OPSBOT_NAME_PREFIX", "opsbot")

WORK_QUEUE = f"{_PREFIX}-work"
WORK_DLQ = f"{_PREFIX}-work-dlq"
ALARMS_TOPIC = f"{_PREFIX}-alarms"
STATE_TABLE = f"{_PREFIX}-state"
