"""``/opsbot changes SERVICE [ENV] [MINUTES]``: what changed on a service, in the reply."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib import changes
from chalicelib.chatops.parse import SlashCommand, count_arg, env_and_args
from chalicelib.core.slack import escape

if TYPE_CHECKING:
    from chalicelib.deps import Deps

USAGE = "changes SERVICE [ENV] [MINUTES]"
SHOWN = 15  # lines in a reply; the rest are counted


def changes_reply(deps: Deps, actor: str, command: SlashCommand) -> dict[str, Any]:
    """The service's changes (default: the last hour), newest first, one line each."""
    args = list(command.args)
    minutes = changes.DEFAULT_MINUTES
    if len(args) >= 2 and args[-1].isdigit():
        minutes = changes.check_minutes(
            count_arg(args.pop(), USAGE, name="MINUTES", field="since_minutes")
        )
    env, (service,) = env_and_args(deps, args, 1, USAGE, actor=actor)
    feed = changes.changes(
        deps, actor=actor, environment=env.name, service=service, since_minutes=minutes
    )
    head = f"*{env.name}/{escape(service)}*: changes of the last {minutes} min, newest first"
    lines = [f"• {escape(changes.change_line(c))}" for c in feed.items[:SHOWN]]
    if not lines:
        lines = [f"Nothing changed in the last {minutes} min."]
    if len(feed.items) > SHOWN:
        lines.append(f"…and {len(feed.items) - SHOWN} more (`opsbot changes {escape(service)}`).")
    lines += [f"_Not included: {escape(note)}_" for note in feed.notes]
    return {"response_type": "ephemeral", "text": head + ":\n" + "\n".join(lines)}
