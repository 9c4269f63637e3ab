"""What changed, end to end (issue 20's "Done when"): a change made straight against the
embedded AWS and a deploy through opsbot both show in the service's change feed, in the
follow-up of the next alarm reaction (a Slack thread reply to it) and in ``opsbot changes``."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import Stack, wait_for
from tests.e2e.test_alarms import alarm, desired, new_messages, set_desired, settle
from tests.e2e.test_cli import cli, opsbot

__all__ = ["opsbot"]  # the CLI fixture, used below


def test_a_direct_update_and_a_deploy_show_in_the_feed_the_alarm_follow_up_and_the_cli(
    stack: Stack, opsbot: Path
) -> None:
    settle(stack, quiet=0.5)
    stack.reset_cooldowns()
    posted = stack.request(
        "POST", "/deployments", json={"environment": "demo", "service": "web", "tag": "2.0"}
    )
    assert posted.status_code == 202, posted.text
    deployment_id = posted.json()["id"]
    try:
        assert stack.wait_deployment(deployment_id)["status"] == "succeeded"
        # someone outside opsbot, with boto3 on the AWS port
        stack.aws("ecs").update_service(cluster="demo", service="web", desiredCount=3)

        feed = stack.request("GET", "/services/demo/web/changes?since_minutes=60")
        assert feed.status_code == 200, feed.text
        items = feed.json()["items"]
        assert items[0]["source"] == "cloudtrail", items[0]
        assert items[0]["what"].startswith("UpdateService"), items[0]
        assert "desiredCount=3" in items[0]["what"]
        assert deployment_id in {i.get("deployment_id") for i in items}
        assert feed.json()["missing_sources"] == []

        mark = len(stack.slack())
        alarm(stack, "web-cpu-high", "ALARM")
        wait_for(lambda: desired(stack, "web") == 4)  # the reaction acted
        follow_up = wait_for(
            lambda: [t for t in new_messages(stack, mark) if "Changed in the last hour" in t],
            timeout=10,
        )[0]
        assert "web-cpu-high ALARM: web 3 -> 4" in follow_up  # the reaction it follows
        assert "UpdateService desiredCount=3" in follow_up
        assert deployment_id in follow_up
        # make run configures a bot token: the follow-up is a reply in the reaction's thread
        records = stack.slack_records()[mark:]
        [reaction] = [
            r for r in records if "web-cpu-high ALARM: web 3 -> 4" in r["payload"]["text"]
        ]
        [reply] = [r for r in records if "Changed in the last hour" in r["payload"]["text"]]
        assert reaction["to"] == reply["to"] == "chat.postMessage"
        assert reply["payload"]["thread_ts"] == reaction["ts"]
        assert reply["payload"]["reply_broadcast"] is False

        shown = cli(stack, opsbot, "changes", "web", "--since", "60m")
        assert shown.returncode == 0, shown.stderr
        assert "UpdateService desiredCount=3" in shown.stdout
        assert deployment_id in shown.stdout
        as_json = json.loads(cli(stack, opsbot, "changes", "web", "--output", "json").stdout)
        assert as_json["items"][0]["source"] in {"opsbot", "cloudtrail"}
    finally:  # the demo as the other e2e tests expect it: web on its old image, desired 2
        back = stack.request("POST", f"/deployments/{deployment_id}/rollback")
        if back.status_code == 202:
            stack.wait_deployment(back.json()["id"])
        settle(stack, quiet=0.5)
        set_desired(stack, "web", 2)
        stack.reset_cooldowns()
