"""``python -m bench.own_share``: its fresh-process scripts load what Lambda loads and count
the classes opsbot creates."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench import own_share

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_run_times_exactly_the_modules_it_is_given() -> None:
    script = own_share.import_script("alarm", ["chalicelib.records.guards"])
    script += "print(sorted(m for m in sys.modules if m.startswith('chalicelib')))"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    timed, loaded = done.stdout.strip().splitlines()
    assert json.loads(timed)["import"] > 0
    assert loaded == "['chalicelib', 'chalicelib.records', 'chalicelib.records.guards']"


def test_the_instrumented_run_imports_the_lambda_handler_and_counts_opsbot_classes() -> None:
    script = own_share.instrumented_script("alarm")
    assert "from chalicelib.handlers.alarms import alarm_notification as handler" in script
    probe = script.split("t0 = time.perf_counter()")[0].replace("bench_calls.install()", "")
    probe += "import chalicelib.records.guards\nprint(dict((k[1], v[0]) for k, v in _made.items()))"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "'chalicelib.records.guards': 3" in done.stdout  # Freeze, CapDecision, HeldReaction
