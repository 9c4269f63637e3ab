"""What the control commands print: the outcome of what they started, one line each.

The lines are made from what opsbot itself said and did about exactly this command's input: the
Slack posts the invocation for its SNS message (or its tick) made, and the handler's result,
which the stack keeps by input id (``outcomes.Outcomes``). Nothing is guessed from timing alone:
a later step (a rotation finished by ACM's event) is found by the certificate it names.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from infra.local.oplog import CHANNEL_POSTS, first_sentence, parse_post

_SCALED = re.compile(r": (?P<target>\S+) (?P<before>\d+) -> (?P<after>\d+)$")
_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")


def local_time(text: str) -> str:
    """Each ISO-8601 UTC time in ``text`` as this machine's ``HH:MM:SS``."""

    def one(match: re.Match[str]) -> str:
        at = datetime.fromisoformat(match.group(0).replace("Z", "+00:00"))
        return at.astimezone().strftime("%H:%M:%S")

    return _ISO.sub(one, text)


def webhook_posts(posts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The payloads posted to the channel, by the webhook or the bot (a response_url reply
    repeats one)."""
    return [p["payload"] for p in posts if p.get("to") in CHANNEL_POSTS and p.get("payload")]


def alarm_reaction(alarm: str, state: str, payload: dict[str, Any]) -> str:
    """``web-cpu-high ALARM -> web desired 2 -> 3 (rule web-cpu-high; next scale-out after T)``."""
    title, body, facts = parse_post(payload)
    rule = (facts.get("Rule") or "").split(":", 1)[0]
    notes = [f"rule {rule}"] if rule else []
    scaled = _SCALED.search(title)
    nxt = _ISO.search(facts.get("Next action") or "")
    way = "scale-out" if state == "ALARM" else "scale-in"
    if scaled:
        what = f"{scaled['target']} desired {scaled['before']} -> {scaled['after']}"
        if nxt:
            notes.append(f"next {way} after {local_time(nxt.group(0))}")
    elif "in cooldown" in title:
        what = "cooldown: no change"
        why = first_sentence(local_time(facts.get("Result") or body))
        notes.append(why[:1].lower() + why[1:])
        if nxt and local_time(nxt.group(0)) not in why:
            notes.append(f"next {way} after {local_time(nxt.group(0))}")
    else:
        said = title.split(": ", 1)[1] if ": " in title else title
        result = facts.get("Result") or first_sentence(body)
        what = f"{said}: {local_time(result)}" if result and result not in said else said
    return f"{alarm} {state} -> {what}" + (f" ({'; '.join(notes)})" if notes else "")


def alarm_silent(alarm: str, state: str, ended: dict[str, Any]) -> str:
    """A reaction that posted nothing: from the handler's result."""
    if not ended.get("ok"):
        return (
            f"{alarm} {state} -> the alarm function failed after {ended.get('attempts')} "
            f"attempts: {ended.get('reason')}"
        )
    records = (ended.get("result") or {}).get("records") or [{}]
    record = records[0]
    results = [str(r) for r in record.get("results") or []]
    if record.get("duplicate"):
        return f"{alarm} {state} -> already handled (a duplicate delivery): no change"
    if not results:
        return f"{alarm} {state} -> no rule reacts to it: no change"
    if results == ["cooldown"]:
        return f"{alarm} {state} -> cooldown: no change (the notice was already posted)"
    return f"{alarm} {state} -> {', '.join(results)} (nothing posted)"


def certificates(result: dict[str, Any]) -> list[str]:
    """``tick certificates``: one line per certificate checked."""
    lines = []
    for item in result.get("certificates") or []:
        domain = item.get("domain") or item.get("certificate")
        where = ", ".join(item.get("listeners") or []) or "no listener"
        outcome = str(item.get("outcome") or item.get("status") or "checked")
        if outcome == "started":
            lines.append(
                f"rotation started for {domain} on {where}: requested "
                f"{item.get('new_certificate')}; waiting for DNS validation"
            )
        elif outcome == "ok":
            lines.append(f"{domain} on {where}: ok, not due for renewal")
        else:
            shown = ("environment", "certificate", "domain", "listeners", "outcome")
            extra = {k: v for k, v in item.items() if k not in shown}
            detail = f" {json.dumps(extra, default=str)}" if extra else ""
            lines.append(f"{domain} on {where}: {outcome}{detail}")
    return lines or ["no listener certificate to check"]


def rotation_step(domain: str, payload: dict[str, Any]) -> str:
    """A later step of a rotation, as opsbot posted it."""
    title, body, facts = parse_post(payload)
    where = f" on {facts['Listeners']}" if facts.get("Listeners") else ""
    new = facts.get("New certificate")
    said = f"new certificate {new}" if new else first_sentence(body)
    return f"{domain}: {title.lower()}{where}: {said}"


def budgets(result: dict[str, Any], posted: list[dict[str, Any]]) -> list[str]:
    """``tick budgets``: one line per threshold, and whether its alert was posted."""
    titles = [parse_post(p)[0] for p in posted]
    lines = []
    for item in result.get("budgets") or []:
        name = f"budget {item.get('budget')} ({item.get('environment')})"
        figures = f"{float(item.get('value') or 0):.2f} of {float(item.get('limit') or 0):.2f} USD"
        if not item.get("crossed"):
            lines.append(f"{name}: {item.get('threshold')} not crossed ({figures})")
            continue
        mine = [t for t in titles if t.startswith(f"Budget {item.get('budget')}")]
        if item.get("alerted"):
            said = "alert posted" if mine else "alerted"
            lines.append(f"{name}: {item.get('threshold')} crossed ({figures}): {said}")
        else:
            lines.append(
                f"{name}: {item.get('threshold')} crossed ({figures}): already alerted this period"
            )
    return lines or ["no budget watched"]


def sweeper(result: dict[str, Any]) -> list[str]:
    """``tick sweeper``: one line per stuck deploy handed to the worker again or lock released."""
    lines = [
        f"{item['target']}: {item['holder']} {str(item['outcome']).replace('_', ' ')}"
        + (f" ({item['reason']})" if item.get("reason") else "")
        for item in result.get("sweeper") or []
    ]
    return lines or ["sweeper: nothing stuck (no deploy waiting for the worker, no stale lock)"]
