"""The docs site's reference pages, generated from the source when ``make docs`` builds it
(``infra/docs_hooks.py`` adds them to the site; they are never committed):

* ``reference/openapi.md``: the REST API from ``/openapi.json`` (``chalicelib.handlers.openapi``)
* ``reference/cli-commands.md``: every ``opsbot`` command from its argparse parser
* ``reference/policy-schema.md``: every policy field from ``chalicelib/policy.schema.json``
* ``reference/control-commands.md``: ``python -m infra.local`` from its parser
"""

from __future__ import annotations

import argparse
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WIDTH = 100  # usage lines are wrapped at this width, whatever the terminal


def _cell(text: Any) -> str:
    """A value fit for one markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(value: Any) -> str:
    return "`" + json.dumps(value).replace("|", "\\|").replace("`", "'") + "`"


def _type(schema: dict[str, Any]) -> str:
    """A short human type: ``string``, ``integer (1..100)``, [Model](#model), ``list of ...``."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "const" in schema:
        return _code(schema["const"])
    if "enum" in schema:
        return " \\| ".join(_code(v) for v in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " or ".join(_type(s) for s in schema[key])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"map of {_type(schema['additionalProperties'])}"
    for pattern, value in (schema.get("patternProperties") or {}).items():
        return f"map (keys matching `{pattern}`) of {_type(value)}"
    low, high = schema.get("minimum", schema.get("exclusiveMinimum")), schema.get("maximum")
    if low is not None or high is not None:
        kind += f" ({'' if low is None else low}..{'' if high is None else high})"
    if "pattern" in schema:
        kind += f" matching `{schema['pattern']}`"
    return str(kind)


def properties_table(schema: dict[str, Any]) -> list[str]:
    """A model's fields as a table: name, type, required or default, description and example."""
    props = schema.get("properties") or {}
    if not props:
        return []
    required = set(schema.get("required", []))
    lines = ["| field | type | default | description |", "|---|---|---|---|"]
    for name, prop in props.items():
        default = _code(prop["default"]) if "default" in prop else ""
        default = "required" if name in required else default
        about = _cell(prop.get("description", ""))
        if prop.get("examples"):
            about += " (e.g. " + ", ".join(_code(e) for e in prop["examples"]) + ")"
        lines.append(f"| `{name}` | {_type(prop)} | {default} | {about} |")
    return lines


def _definitions(defs: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for name, model in sorted(defs.items()):
        lines += ["", f"### {name}", ""]
        if model.get("description"):
            lines += [_cell(model["description"]), ""]
        if "enum" in model:
            lines.append("One of " + ", ".join(_code(v) for v in model["enum"]) + ".")
        for form in model.get("oneOf", []):
            lines += [f"**{form.get('title', 'form')}**", "", *properties_table(form), ""]
        lines += properties_table(model)
    return lines


def policy_schema_page() -> str:
    """Every field of the ops policy, from the committed JSON Schema."""
    schema = json.loads((ROOT / "chalicelib" / "policy.schema.json").read_text())
    lines = [
        "# Policy schema",
        "",
        "Generated from `chalicelib/policy.schema.json` (itself generated from the pydantic "
        "models in `chalicelib/domain/policy.py` and the modules it imports: `make schema` "
        "regenerates it). "
        "See [the ops policy](../concepts/policy.md) for how the pieces fit together.",
        "",
        "## Policy (the file)",
        "",
        *properties_table(schema),
        "",
        "## Definitions",
        *_definitions(schema["$defs"]),
    ]
    return "\n".join(lines) + "\n"


def _responses(op: dict[str, Any], shared: dict[str, Any]) -> list[str]:
    lines = ["| status | answer |", "|---|---|"]
    for status, answer in op.get("responses", {}).items():
        if "$ref" in answer:
            answer = shared[answer["$ref"].rsplit("/", 1)[-1]]
        schema = (answer.get("content", {}).get("application/json") or {}).get("schema", {})
        body = f" {_type(schema)}" if schema else ""
        lines.append(f"| {status} | {_cell(answer.get('description', ''))}{body} |")
    return lines


def openapi_page() -> str:
    """The REST API, route by route, then its schemas: from ``GET /openapi.json``."""
    from chalicelib.handlers.openapi import document

    doc = document()
    info = doc["info"]
    lines = [
        "# REST API reference",
        "",
        "Generated from the app's OpenAPI document (`GET /openapi.json`, version "
        f"{info['version']}). [The REST API](rest.md) explains the routes, authentication and "
        "idempotency.",
        "",
        _cell(info.get("description", "")),
        "",
    ]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            lines += ["", f"## `{method.upper()} {path}`", "", _cell(op.get("summary", "")), ""]
            if op.get("security") == []:
                lines += ["No token needed.", ""]
            params = op.get("parameters", [])
            if params:
                lines += ["| parameter | in | type | description |", "|---|---|---|---|"]
                lines += [
                    f"| `{p['name']}`{'' if not p.get('required') else ' (required)'} | {p['in']} "
                    f"| {_type(p.get('schema', {}))} | {_cell(p.get('description', ''))} |"
                    for p in params
                ]
                lines.append("")
            body = (op.get("requestBody", {}).get("content", {}).get("application/json")) or {}
            if body:
                lines += [f"Body: {_type(body.get('schema', {}))}", ""]
                if "example" in body:
                    lines += ["```json", json.dumps(body["example"], indent=2), "```", ""]
            lines += _responses(op, doc["components"]["responses"])
    lines += ["", "## Schemas", *_definitions(doc["components"]["schemas"])]
    return "\n".join(lines) + "\n"


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.HelpFormatter(prog, width=WIDTH)


def _arguments(parser: argparse.ArgumentParser) -> list[str]:
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        name = ", ".join(action.option_strings) or (action.metavar or action.dest)
        about = _cell(action.help or "")
        if action.choices is not None:
            about += " (one of " + ", ".join(f"`{c}`" for c in action.choices) + ")"
        rows.append(f"| `{name}` | {about} |")
    return ["| argument | description |", "|---|---|", *rows] if rows else []


def _commands(parser: argparse.ArgumentParser, depth: int) -> list[str]:
    lines: list[str] = []
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {a.dest: a.help for a in action._choices_actions}
        for name, sub in action.choices.items():
            sub.formatter_class = _formatter
            lines += ["", f"{'#' * depth} `{sub.prog}`", "", _cell(helps.get(name) or "")]
            usage = sub.format_usage().removeprefix("usage: ").rstrip().replace("\n       ", "\n")
            lines += ["", "```", usage, "```", ""]
            lines += _arguments(sub)
            lines += _commands(sub, depth + 1)
    return lines


def parser_page(title: str, intro: str, parser: argparse.ArgumentParser) -> str:
    """One section per command (and sub-command) of an argparse parser."""
    parser.formatter_class = _formatter
    lines = [f"# {title}", "", intro, "", "```", parser.format_usage().rstrip(), "```"]
    lines += _arguments(parser) + _commands(parser, 2)
    return "\n".join(lines) + "\n"


def cli_page() -> str:
    """``opsbot``: every command, from ``opsbot_cli.main.parser``."""
    from opsbot_cli.main import parser

    return parser_page(
        "CLI commands",
        "Generated from the `opsbot` command line's parser (`opsbot_cli/main.py`). "
        "[The opsbot CLI](cli.md) covers installing it, its profile and its exit codes.",
        parser("demo"),
    )


def control_page() -> str:
    """``python -m infra.local``: every control command of the local stack."""
    from infra.local.__main__ import parser

    return parser_page(
        "Control commands",
        "Generated from the local stack's parser (`infra/local/__main__.py`). "
        "[Local control commands](control.md) shows what they print.",
        parser(),
    )


PAGES: dict[str, Callable[[], str]] = {
    "reference/openapi.md": openapi_page,
    "reference/cli-commands.md": cli_page,
    "reference/policy-schema.md": policy_schema_page,
    "reference/control-commands.md": control_page,
}


@functools.cache
def page(path: str) -> str:
    """The text of one generated page."""
    return PAGES[path]()
