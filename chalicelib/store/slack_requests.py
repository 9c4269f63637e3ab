"""Slack requests already received: one ``SLACKREQ#<signature>`` item per verified request.

Slack never retries a slash command or an interactivity payload, so the same signature twice
is a replay. The first receipt is a conditional put (the same kind of claim as an
Idempotency-Key's); the item is kept, by the table's TTL, until just past the time its
signature can no longer pass the five-minute check.
"""

from __future__ import annotations

from chalicelib.store.table import Table, _item

_SK = "SLACKREQ"


class SlackRequestStore(Table):
    """Remember verified Slack requests by their signature."""

    def record_slack_request(self, signature: str, *, keep_until: int) -> bool:
        """Record the request signed ``signature`` until ``keep_until`` (epoch seconds); False
        when it was recorded already (a replay). One conditional PutItem."""
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=_item({"pk": f"SLACKREQ#{signature}", "sk": _SK, "expires_at": keep_until}),
                # an expired item left by a lagging TTL can only be hit by a request whose
                # timestamp is stale, which the signature check refuses first
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True
