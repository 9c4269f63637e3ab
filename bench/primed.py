"""SnapStart, side by side: opsbot primed as its snapshot is, against a floor that built its
clients at init; and the Slack ack of a fresh (not primed) API process.

A primed run is a fresh interpreter that does what Lambda does for a SnapStart function:
init with ``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`` and the function's ``_HANDLER`` (its
handler module imported, its hooks registered with a stand-in for the runtime's
``snapshot_restore_py``), the before-snapshot hooks (priming), then the after-restore hooks,
then the first event. Only
the event is timed (the restore hooks are reported apart). Its floor is a fresh interpreter
that imports boto3 and builds a client for each service the opsbot run called at init, then
makes exactly the calls the opsbot run made; only the calls are timed. Runs alternate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import cold

# The Lambda runtime's SnapStart hooks, as the runtime calls them (before the snapshot after
# init, after each restore before the first event).
RUNTIME = """
import types
_hooks = {"before": [], "after": []}
_runtime = types.ModuleType("snapshot_restore_py")
_runtime.register_before_snapshot = _hooks["before"].append
_runtime.register_after_restore = _hooks["after"].append
sys.modules["snapshot_restore_py"] = _runtime
"""

_PRIMED_REPORT = """
peak = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1]
print(json.dumps({"import": t1 - t0, "event": t2 - t_restored, "restore": t_restored - t1,
                  "rss_kb": int(peak)}))
"""


def primed_script(kind: str) -> str:
    """Init as the snapshot is made (priming on), restore, then the event in ``argv[1]``."""
    return cold.opsbot_script(
        kind,
        prelude=cold.PRELUDE + RUNTIME,
        init='for hook in _hooks["before"]:\n    hook()',
        restore='for hook in _hooks["after"]:\n    hook()',
        report=_PRIMED_REPORT,
    )


PRIMED_FLOOR_SCRIPT = cold.floor_script(clients_at_init=True)


def primed_env(kind: str, env: dict[str, str]) -> dict[str, str]:
    """The environment Lambda gives a SnapStart function's init."""
    return {
        **env,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start",
        "_HANDLER": cold.handler_string(kind),
    }


def primed_pair(
    kind: str, events: list[str], *, app_dir: Path, env: dict[str, str], workdir: Path,
    before_each: Any = None,
) -> tuple[cold.Pair, list[float]]:  # fmt: skip
    """For each event file: opsbot primed handles it, then the floor replays its calls; and
    each primed run's restore-hook seconds."""
    pair = cold.cold_pair(
        kind, events, app_dir=app_dir, env=env, workdir=workdir, before_each=before_each,
        scripts={"opsbot": primed_script(kind), "floor": PRIMED_FLOOR_SCRIPT, "libraries": ""},
        opsbot_env=primed_env(kind, env), name=f"primed-{kind}",
    )  # fmt: skip
    return pair, [run.extra.get("restore", 0.0) for run in pair.opsbot]


def cold_slack(
    make_event: Any, runs: int, *, app_dir: Path, env: dict[str, str], workdir: Path
) -> cold.Pair:
    """``runs`` fresh API processes, each answering a newly signed slash command; after each,
    the floor (bare boto3) and the libraries-only side make the calls it made."""
    events = [make_event(f"cold-slack-{n}") for n in range(runs)]
    return cold.cold_pair(
        "slack", events, app_dir=app_dir, env=env, workdir=workdir,
        name="cold-slack",
    )  # fmt: skip
