"""What Lambda imports: an event function's handler is its Blueprint module (Chalice's handler
string), not ``app.py``; each of them registers SnapStart's runtime hooks, and the bench
measures the imports Lambda really makes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app import app
from bench import cold, primed

ROOT = Path(__file__).resolve().parents[2]

# Lambda's Python runtime hands the hooks to a module it provides; the bench's stand-in
# (``_hooks``) records them.
_INIT = (
    "import json, sys\n"
    + primed.RUNTIME
    + """
hooks = _hooks
module, _, name = sys.argv[1].rpartition(".")
handler = getattr(__import__(module, fromlist=[name]), name)
print(json.dumps({
    "before": [h.__name__ for h in hooks["before"]],
    "after": [h.__name__ for h in hooks["after"]],
    "app_imported": "app" in sys.modules,
    "callable": callable(handler),
}))
"""
)


def _handler_strings() -> list[str]:
    """Every function's Lambda handler: each event source's, and the REST API's."""
    return sorted({source.handler_string for source in app.event_sources} | {"app.app"})


def test_event_functions_are_entered_through_their_blueprint_module() -> None:
    strings = {source.name: source.handler_string for source in app.event_sources}
    assert strings["alarm_notification"] == "chalicelib.handlers.alarms.alarm_notification"
    assert strings["work"] == "chalicelib.handlers.worker.work"


def test_the_bench_imports_what_lambda_imports() -> None:
    strings = {source.name: source.handler_string for source in app.event_sources}
    assert cold.handler_string("alarm") == strings["alarm_notification"]
    assert cold.handler_string("deploy") == strings["work"]
    assert cold.handler_string("slack") == "app.app"


@pytest.mark.parametrize("handler", _handler_strings())
def test_every_function_registers_snapstart_hooks_from_its_own_entry(handler: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _INIT, handler],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"},
        capture_output=True,
        text=True,
        check=True,
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["callable"]
    assert seen["before"] == ["before_snapshot"]  # priming runs before the snapshot
    assert seen["after"] == ["after_restore"]  # every restored copy reseeds and reconnects
    assert seen["app_imported"] is (handler == "app.app")  # an event function never loads it
