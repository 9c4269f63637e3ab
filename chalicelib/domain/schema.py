"""The JSON Schema of the ops policy (``chalicelib/policy.schema.json``), generated from its
pydantic models, so editors complete and check ``policy.yaml`` (its first line names it).

    .venv/bin/python -m chalicelib.domain.schema            # (re)write policy.schema.json
    .venv/bin/python -m chalicelib.domain.schema --check    # exit 1 when it is stale

``make schema`` runs the first. The Lambda never imports this module: the app validates the
policy with the models themselves; the schema is for editors, CI and the docs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from chalicelib.domain.actions import REGISTRY
from chalicelib.domain.policy import Policy

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "policy.schema.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
REGENERATE = ".venv/bin/python -m chalicelib.domain.schema  (or: make schema)"


def _action_forms() -> list[dict[str, Any]]:
    """One form per registered action: ``{action: NAME, PARAM: VALUE...}`` (YAML's form)."""
    forms: list[dict[str, Any]] = []
    for name in sorted(REGISTRY):
        action = REGISTRY[name]
        params = action.Params.model_json_schema()
        properties = {
            "action": {"const": name, "description": (action.__doc__ or name).strip()},
            **params.get("properties", {}),
        }
        forms.append(
            {
                "title": name,
                "type": "object",
                "properties": properties,
                "required": ["action", *params.get("required", [])],
                "additionalProperties": False,
            }
        )
    return forms


def _closed(node: Any) -> None:
    """A map whose keys must match a pattern (``patternProperties``) refuses other keys, as the
    model does (pydantic leaves other keys unchecked)."""
    if isinstance(node, dict):
        if "patternProperties" in node:
            node.setdefault("additionalProperties", False)
        for value in node.values():
            _closed(value)
    elif isinstance(node, list):
        for item in node:
            _closed(item)


def policy_schema() -> dict[str, Any]:
    """The schema, as the committed file holds it."""
    schema = Policy.model_json_schema(mode="validation")
    _closed(schema)
    defs = schema["$defs"]
    # an environment's name is its key in `environments`, never written in the file
    defs["Environment"]["properties"].pop("name", None)
    explicit = {**defs["ActionSpec"], "title": "explicit params", "required": ["action", "params"]}
    defs["ActionSpec"] = {
        "title": "ActionSpec",
        "description": "A registered action and its parameters, side by side "
        "({action: scale_ecs_service, service: web, step: 1}), or under `params`.",
        "oneOf": [*_action_forms(), explicit],
        "examples": [{"action": "scale_ecs_service", "service": "web", "step": 1}],
    }
    return {
        "$schema": DIALECT,
        "title": "opsbot ops policy",
        "description": (Policy.__doc__ or "").strip()
        + " Generated from chalicelib/domain/policy.py: regenerate with "
        + REGENERATE
        + ".",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }


def render() -> str:
    """The file's text."""
    return json.dumps(policy_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    """Write the schema (or, with ``--check``, say whether the committed one is current)."""
    text = render()
    if argv == ["--check"]:
        current = SCHEMA_FILE.read_text() if SCHEMA_FILE.exists() else ""
        if current != text:
            print(f"{SCHEMA_FILE} is stale: regenerate it with {REGENERATE}", file=sys.stderr)
            return 1
        return 0
    if argv:
        print(__doc__, file=sys.stderr)
        return 2
    SCHEMA_FILE.write_text(text)
    print(f"wrote {SCHEMA_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
