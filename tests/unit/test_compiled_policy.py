"""The compiled policy: validated once, read back without YAML or validation, never stale."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.core.errors import PolicyError
from chalicelib.domain import compile_policy, compiled, policy
from chalicelib.domain.policy import Permission, load_policy_file, validate_policy_bytes

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "chalicelib" / "policy.yaml"


@pytest.fixture()
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    shutil.copy(DEMO, path)
    return path


def _caches(path: Path) -> list[Path]:
    return sorted((path.parent / "__pycache__").glob(f"{path.name}.*.pickle"))


def _no_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(data: bytes, source: str) -> policy.Policy:
        raise AssertionError("validated from YAML, not read from the compiled policy")

    monkeypatch.setattr(policy, "validate_policy_bytes", refuse)


def test_a_loaded_policy_is_compiled_and_read_back_without_validation(
    policy_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    first = load_policy_file(policy_file)
    assert len(_caches(policy_file)) == 1
    _no_validation(monkeypatch)
    again = load_policy_file(policy_file)
    assert again == first
    # what the handlers ask of it works the same on the compiled copy
    assert again.permissions("demo-admin", "demo") == first.permissions("demo-admin", "demo")
    assert Permission.DEPLOY in again.permissions("demo-admin", "demo")
    assert again.environments["demo"].service("web") == first.environments["demo"].service("web")
    assert again.alarm_rules == first.alarm_rules
    built = [r.on_alarm.build() for r in again.alarm_rules.values()]
    assert [(a.name, a.params) for a in built] == [
        (r.on_alarm.action, type(a.params).model_validate(r.on_alarm.params))
        for r, a in zip(first.alarm_rules.values(), built, strict=True)
    ]


def test_a_changed_policy_file_never_loads_the_old_compiled_policy(
    policy_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    before = load_policy_file(policy_file)
    old = _caches(policy_file)
    policy_file.write_text(policy_file.read_text().replace("max: 6", "max: 7", 1))
    after = load_policy_file(policy_file)
    assert after.environments["demo"].services["web"].max == 7
    assert before.environments["demo"].services["web"].max == 6
    assert _caches(policy_file) != old and len(_caches(policy_file)) == 1  # the stale one went


def test_a_broken_policy_fails_even_when_an_older_version_was_compiled(
    policy_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    load_policy_file(policy_file)
    policy_file.write_text(policy_file.read_text().replace("max: 6", "max: -1", 1))
    with pytest.raises(PolicyError, match="max"):
        load_policy_file(policy_file)


def test_a_changed_schema_source_gives_another_key(tmp_path: Path) -> None:
    for name in compiled.SCHEMA_MODULES:
        source = Path(*name.split(".")).with_suffix(".py")
        (tmp_path / source).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / source, tmp_path / source)
    assert compiled.schema_digest(tmp_path) == compiled.schema_digest()
    for name in compiled.SCHEMA_MODULES:
        source = tmp_path / Path(*name.split(".")).with_suffix(".py")
        text = source.read_text()
        source.write_text(text + "\n# changed\n")
        assert compiled.schema_digest(tmp_path) != compiled.schema_digest(), name
        source.write_text(text)


def test_the_key_covers_every_module_the_policy_schema_imports() -> None:
    """A module the schema comes to import must join SCHEMA_MODULES, or its changes would not
    invalidate compiled policies."""
    script = (
        "import json, sys; import chalicelib.domain.policy; "
        "print(json.dumps(sorted(m for m, mod in sys.modules.items() "
        "if m.startswith('chalicelib.') and not hasattr(mod, '__path__'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == sorted(compiled.SCHEMA_MODULES)


def test_a_corrupt_or_foreign_compiled_policy_is_ignored(
    policy_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = policy_file.read_bytes()
    target = compiled.cache_path(policy_file, data)
    target.parent.mkdir()
    target.write_bytes(b"not a pickle")
    assert load_policy_file(policy_file).environments["demo"].cluster == "demo"
    target.write_bytes(pickle.dumps({"environments": {}}))
    assert load_policy_file(policy_file).environments["demo"].cluster == "demo"


def test_nothing_is_written_without_bytecode_writes_or_a_writable_directory(
    policy_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    load_policy_file(policy_file)
    assert not (policy_file.parent / "__pycache__").exists()
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    (policy_file.parent / "__pycache__").write_text("a file where the directory would be")
    assert load_policy_file(policy_file).environments["demo"].cluster == "demo"


def test_compile_policy_writes_it_even_without_bytecode_writes(
    policy_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    written = compile_policy.compile_policy_file(policy_file)
    assert _caches(policy_file) == [written]
    _no_validation(monkeypatch)
    assert load_policy_file(policy_file) == validate_policy_bytes(DEMO.read_bytes(), "demo")
