"""What opsbot's own share of a cold start is made of: ``python -m bench.own_share``.

``cold_vs_libraries`` compares opsbot's fresh process with one that imports the architecture's
libraries and makes the same AWS calls. This breaks the difference down. For each kind of event
(alarm, deploy start), in fresh processes against the bench's embedded AWS:

- **instrumented run**: the libraries of ``bench.cold.LIBRARIES`` imported first (as the
  libraries side does), then the function's handler imported as Lambda does and the event
  handled, counting every pydantic model class and every dataclass opsbot's modules create
  while that happens (and the time each took), and listing opsbot's modules that got loaded;
- **import run**: the libraries imported first, then exactly those opsbot modules imported in
  the same order, timed: the whole cost of loading opsbot's code on that path;
- **libraries side**: the libraries-only process of ``make bench`` replaying the calls, for scale.

Medians over ``--runs`` (and the minimum of the import runs: the least the machine gave).
Writes ``bench/own_share.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import cold
from bench.world import ROOT, embedded_world

# Counts the classes opsbot's modules create; prints them with the opsbot modules loaded.
_COUNT = """
import collections, dataclasses, time as _time
import pydantic._internal._model_construction as _mc
_made = collections.defaultdict(lambda: [0, 0.0])
_process = dataclasses._process_class
def _dc(cls, *a, **k):
    t = _time.perf_counter(); out = _process(cls, *a, **k)
    _made["dataclass", cls.__module__][0] += 1
    _made["dataclass", cls.__module__][1] += _time.perf_counter() - t
    return out
dataclasses._process_class = _dc
_new = _mc.ModelMetaclass.__new__
def _pd(mcs, name, bases, ns, *a, **k):
    t = _time.perf_counter(); out = _new(mcs, name, bases, ns, *a, **k)
    _made["pydantic", ns.get("__module__")][0] += 1
    _made["pydantic", ns.get("__module__")][1] += _time.perf_counter() - t
    return out
_mc.ModelMetaclass.__new__ = _pd
_loaded_before = set(sys.modules)
"""

_COUNT_REPORT = """
ours = lambda m: bool(m) and (m == "app" or m.startswith("chalicelib"))
print(json.dumps({
    "modules": [m for m in sys.modules if m not in _loaded_before and ours(m)],
    "classes": [[kind, mod, n, ms * 1000] for (kind, mod), (n, ms) in _made.items() if ours(mod)],
    "total": t2 - t0,
}))
"""


def _libraries(kind: str) -> str:
    imports = "\n".join(f"import {name}" for name in (*cold.LIBRARIES[kind], "boto3"))
    return f"{imports}\nclass _M(pydantic.main.BaseModel):\n    x: int\n_M(x=1)\n"


def instrumented_script(kind: str) -> str:
    """The libraries, then the handler and the event with class creation counted."""
    module, handler = cold.HANDLERS[kind]
    return (
        cold.PRELUDE
        + _libraries(kind)
        + _COUNT
        + f"""
t0 = time.perf_counter()
from {module} import {handler} as handler
event = json.load(open(sys.argv[1]))
handler(event, None)
t2 = time.perf_counter()
"""
        + _COUNT_REPORT
    )


def import_script(kind: str, modules: list[str]) -> str:
    """The libraries, then opsbot's ``modules`` in order, timed."""
    body = "".join(f"importlib.import_module({name!r})\n" for name in modules)
    return (
        f"import importlib, json, sys, time\n{_libraries(kind)}"
        f"t0 = time.perf_counter()\n{body}"
        "print(json.dumps({'import': time.perf_counter() - t0}))\n"
    )


def _run(script: str, arg: str, env: dict[str, str], calls_out: Path) -> dict[str, Any]:
    return cold.run_json(script, arg, cwd=ROOT, env=env, calls_out=calls_out)


def _by_module(runs: list[dict[str, Any]]) -> list[list[Any]]:
    """Per module that made classes: its kind, count and median milliseconds over the runs."""
    spent: dict[tuple[str, str, int], list[float]] = {}
    for run in runs:
        for kind, module, count, ms in run["classes"]:
            spent.setdefault((kind, module, count), []).append(ms)
    rows = [[*key, round(statistics.median(ms), 2)] for key, ms in spent.items()]
    return sorted(rows, key=lambda row: -row[3])


def _summary(runs: list[dict[str, Any]], imports: list[float], libs: list[float]) -> dict[str, Any]:
    """Medians over the runs of one kind of event."""
    totals = []
    for run in runs:
        row: dict[str, float] = {}
        for kind, _module, count, spent in run["classes"]:
            row[f"{kind}_classes"] = row.get(f"{kind}_classes", 0) + count
            row[f"{kind}_ms"] = row.get(f"{kind}_ms", 0.0) + spent
        totals.append(row)

    def median(key: str) -> float:
        return round(statistics.median(row.get(key, 0) for row in totals), 1)

    return {
        "modules": len(runs[0]["modules"]),
        "own_import_ms": {
            "median": round(1000 * statistics.median(imports), 1),
            "min": round(1000 * min(imports), 1),
        },
        "pydantic_classes": median("pydantic_classes"),
        "pydantic_class_ms": median("pydantic_ms"),
        "dataclasses": median("dataclass_classes"),
        "dataclass_ms": median("dataclass_ms"),
        "libraries_side_total_ms": round(1000 * statistics.median(libs), 1),
        "own_import_share_of_libraries_side": round(
            statistics.median(imports) / statistics.median(libs), 3
        ),
        "classes_by_module": _by_module(runs),
        "modules_loaded": runs[0]["modules"],
    }


def measure(runs: int) -> dict[str, Any]:
    """The breakdown for an alarm and a deploy start."""
    workdir = Path(tempfile.mkdtemp(prefix="opsbot-own-share-"))
    out: dict[str, Any] = {}
    with embedded_world(workdir, runs + 1) as world:
        from bench.__main__ import _compile, _compile_policy

        _compile(ROOT)
        _compile_policy(ROOT, world.env)
        for kind in ("alarm", "deploy"):
            instrumented, imports, libs = [], [], []
            for n in range(runs):
                if kind == "alarm":
                    world.reset_web()
                    event = world.write_event(f"own-alarm-{n}", world.alarm_event())
                else:
                    made = world.deploy_event(world.deploy_services[n])[0]
                    event = world.write_event(f"own-deploy-{n}", made)
                calls = workdir / f"{kind}-{n}.calls"
                run = _run(instrumented_script(kind), event, world.env, calls)
                instrumented.append(run)
                imports.append(
                    _run(import_script(kind, run["modules"]), "", world.env, calls)["import"]
                )
                side = cold.run_script(
                    cold.libraries_script(kind),
                    str(calls),
                    cwd=ROOT,
                    env=world.env,
                    calls_out=workdir / f"{kind}-{n}-libs.calls",
                )
                libs.append(side.total)
            out[kind] = _summary(instrumented, imports, libs)
    return out


def main() -> int:
    """Measure, write ``bench/own_share.json``, print the figures."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.own_share", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--out", default=str(ROOT / "bench" / "own_share.json"))
    args = parser.parse_args()
    started = time.monotonic()
    results = {
        "runs": args.runs,
        **measure(args.runs),
        "seconds": round(time.monotonic() - started),
    }
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    for kind in ("alarm", "deploy"):
        r = results[kind]
        print(
            f"{kind}: {r['modules']} opsbot modules, own import {r['own_import_ms']['median']} ms "
            f"(min {r['own_import_ms']['min']}) = {r['own_import_share_of_libraries_side']:.1%} of "
            f"the libraries side ({r['libraries_side_total_ms']} ms); pydantic classes "
            f"{r['pydantic_classes']:.0f} ({r['pydantic_class_ms']} ms), dataclasses "
            f"{r['dataclasses']:.0f} ({r['dataclass_ms']} ms)"
        )
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
