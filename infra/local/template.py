"""The stateful stack (``infra/template.yaml``) on the embedded AWS, and the app's environment."""

from __future__ import annotations

import json
import logging
import re
import time
import warnings
from typing import TYPE_CHECKING

from infra.local.embedded import client
from infra.local.settings import ROOT, STACK_NAME

if TYPE_CHECKING:
    from infra.local.settings import LocalSettings

log = logging.getLogger("opsbot.local")


def deploy_template(parameters: dict[str, str]) -> dict[str, str]:
    """Create the stateful stack from infra/template.yaml; its outputs."""
    cfn = client("cloudformation")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cfn.create_stack(
            StackName=STACK_NAME,
            TemplateBody=(ROOT / "infra" / "template.yaml").read_text(),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        )
    skipped = sorted(
        {m.group(0) for w in caught if (m := re.search(r"AWS::\w+::\w+", str(w.message)))}
    )
    if skipped:
        log.info(
            "moto's CloudFormation skips %s (no local effect; created in AWS)", ", ".join(skipped)
        )
    deadline = time.monotonic() + 60
    while True:
        stack = cfn.describe_stacks(StackName=STACK_NAME)["Stacks"][0]
        status = stack["StackStatus"]
        if status == "CREATE_COMPLETE":
            return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        if (
            status.endswith("FAILED")
            or status.startswith("ROLLBACK")
            or time.monotonic() > deadline
        ):
            raise RuntimeError(
                f"stack {STACK_NAME} ended {status}: {stack.get('StackStatusReason')}"
            )
        time.sleep(0.2)


def app_environment(outputs: dict[str, str], settings: LocalSettings) -> dict[str, str]:
    """The app's environment: the local stage of .chalice/config.json plus the stack outputs."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    env = dict(config.get("environment_variables", {}))
    env.update(config["stages"]["local"].get("environment_variables", {}))
    env.update(
        {
            "OPSBOT_TABLE": outputs["StateTableName"],
            "OPSBOT_WORK_QUEUE": outputs["WorkQueueName"],
            "OPSBOT_WORK_DLQ": outputs["WorkDeadLetterQueueName"],
            "OPSBOT_NOTIFICATIONS_TOPIC_ARN": outputs["NotificationsTopicArn"],
            "OPSBOT_DEPLOY_TIMEOUT_SECONDS": str(settings.deploy_timeout_seconds),
        }
    )
    return env
