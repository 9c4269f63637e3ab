"""What changes in a task definition: the fields a new revision would render differently from the
one a service runs (``ecspresso diff``, ``ecs-deploy --diff``), as ``{path, from, to}`` items.

Paths name containers (and other named list items: environment variables, volumes...) by name,
``containerDefinitions[web].image``, else by index; values are shown as given when text, else as
compact JSON; a field on one side only has ``None`` on the other. Fields ECS sets itself (ARN,
revision, status, registration times) are never compared.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.deploys.revision import READ_ONLY_FIELDS

Change = dict[str, str | None]  # {"path", "from", "to"}
MAX_SHOWN = 6  # changes listed in a Slack message; the rest are counted


def _shown(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _named(items: list[Any]) -> dict[str, Any] | None:
    """A list of objects each with a distinct ``name``, by name (else None)."""
    if not items or not all(
        isinstance(i, Mapping) and isinstance(i.get("name"), str) for i in items
    ):
        return None
    named = {str(i["name"]): i for i in items}
    return named if len(named) == len(items) else None


def _walk(path: str, before: Any, after: Any, out: list[Change]) -> None:
    if before == after:
        return
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        for key in sorted(set(before) | set(after), key=str):
            _walk(f"{path}.{key}" if path else str(key), before.get(key), after.get(key), out)
        return
    if isinstance(before, list) and isinstance(after, list):
        old, new = _named(before), _named(after)
        if old is not None and new is not None:
            for name in [*old, *(n for n in new if n not in old)]:
                _walk(f"{path}[{name}]", old.get(name), new.get(name), out)
            return
        if len(before) == len(after) and all(isinstance(i, Mapping) for i in before + after):
            for index, (b, a) in enumerate(zip(before, after, strict=True)):
                _walk(f"{path}[{index}]", b, a, out)
            return
    out.append({"path": path, "from": _shown(before), "to": _shown(after)})


def task_definition_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    """The fields that differ between two task definitions (described, or rendered for
    RegisterTaskDefinition), in a stable order."""
    ignored = {*READ_ONLY_FIELDS, "tags"}
    out: list[Change] = []
    _walk(
        "",
        {k: v for k, v in before.items() if k not in ignored},
        {k: v for k, v in after.items() if k not in ignored},
        out,
    )
    return out


def change_line(change: Mapping[str, str | None], short: Callable[[str], str] | None = None) -> str:
    """``containerDefinitions[web].image: web:1.0 -> web@sha256:...`` (``short`` shortens the
    values of image fields; ``(none)`` for a side without the field)."""
    path = str(change["path"])

    def side(value: str | None) -> str:
        if value is None:
            return "(none)"
        return short(value) if short is not None and path.endswith(".image") else value

    return f"{path}: {side(change['from'])} -> {side(change['to'])}"


def change_lines(
    changes: list[Change], short: Callable[[str], str] | None = None, limit: int = MAX_SHOWN
) -> list[str]:
    """At most ``limit`` lines, and how many more there are."""
    lines = [change_line(c, short) for c in changes[:limit]]
    if len(changes) > limit:
        lines.append(f"and {len(changes) - limit} more")
    return lines
