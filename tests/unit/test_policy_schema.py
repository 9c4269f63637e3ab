"""The policy's JSON Schema (chalicelib/policy.schema.json): generated from the models, current,
complete (a description and examples for every field), and what editors check policy.yaml with."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from chalicelib.domain import schema

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "chalicelib" / "policy.yaml"


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    return dict(json.loads(schema.SCHEMA_FILE.read_text()))


@pytest.fixture(scope="module")
def validator(committed: dict[str, Any]) -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(committed)
    return jsonschema.Draft202012Validator(committed)


def test_the_committed_schema_is_the_one_the_models_generate() -> None:
    assert schema.SCHEMA_FILE.read_text() == schema.render(), (
        f"chalicelib/policy.schema.json is stale: regenerate it with {schema.REGENERATE}"
    )
    assert schema.main(["--check"]) == 0


def test_it_is_a_2020_12_schema_with_a_title(committed: dict[str, Any]) -> None:
    assert committed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert committed["title"] == "opsbot ops policy"
    assert "environments" in committed["required"]


def _fields(node: Any, where: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every property schema below ``node``, with its path."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        for name, prop in (node.get("properties") or {}).items():
            found.append((f"{where}.{name}", prop))
        for key, value in node.items():
            if key != "properties" or not isinstance(value, dict):
                found += _fields(value, f"{where}.{key}")
            else:
                found += [f for name, p in value.items() for f in _fields(p, f"{where}.{name}")]
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found += _fields(item, f"{where}.{index}")
    return found


def test_every_field_has_a_description_and_examples(committed: dict[str, Any]) -> None:
    fields = _fields(committed)
    assert len(fields) > 40
    for where, prop in fields:
        if "const" in prop:  # an action form's `action: NAME`
            assert prop.get("description"), where
            continue
        assert prop.get("description"), f"{where}: no description"
        assert prop.get("examples"), f"{where}: no examples"


def test_the_shipped_policy_names_the_schema_and_validates_against_it(
    validator: jsonschema.Draft202012Validator,
) -> None:
    first = POLICY.read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=./policy.schema.json"
    assert (POLICY.parent / "policy.schema.json").is_file()
    errors = [e.message for e in validator.iter_errors(yaml.safe_load(POLICY.read_text()))]
    assert errors == []


def test_the_schema_refuses_what_the_models_refuse(
    validator: jsonschema.Draft202012Validator,
) -> None:
    shipped = yaml.safe_load(POLICY.read_text())
    cases: list[tuple[str, Any, str]] = [
        ("environments.demo.services.web.replicas", 3, "replicas"),
        ("environments.demo.account", "12345", "account"),
        ("alarm_rules.web-cpu-high.on_alarm", {"action": "reboot", "service": "web"}, "on_alarm"),
        ("alarm_rules.web-cpu-high.on_alarm", {"action": "scale_asg", "service": "w"}, "on_alarm"),
        ("roles.viewer", ["read", "delete"], "roles"),
    ]
    for path, value, named in cases:
        data = copy.deepcopy(shipped)
        *parents, last = path.split(".")
        node = data
        for key in parents:
            node = node[key]
        node[last] = value
        errors = list(validator.iter_errors(data))
        assert errors, path
        assert any(
            named in ".".join(map(str, e.absolute_path)) or named in e.message for e in errors
        )
    # the YAML form of an action (its parameters beside `action`) and the explicit one are valid
    data = copy.deepcopy(shipped)
    data["alarm_rules"]["web-cpu-high"]["on_ok"] = {"action": "notify_only"}
    data["alarm_rules"]["web-cpu-high"]["on_alarm"] = {
        "action": "force_new_deployment",
        "params": {"service": "web"},
    }
    assert list(validator.iter_errors(data)) == []


def test_a_name_the_models_refuse_is_refused_by_the_schema(
    validator: jsonschema.Draft202012Validator,
) -> None:
    data = yaml.safe_load(POLICY.read_text())
    data["environments"]["prod env"] = data["environments"].pop("prod")
    assert list(validator.iter_errors(data))
