"""The Lambda package: its size, and importing from it as Lambda does against the dev venv.

Both sides are fresh interpreters without ``site`` (``-S``) and with
``PYTHONDONTWRITEBYTECODE=1``, importing the app and then every module the first alarm event
loaded (recorded from a dev run), in that order. The package side sees only the unzipped
``out/deployment.zip`` (made read-only) and what the Lambda runtime provides (boto3, botocore
and their dependencies, linked from the venv with their bytecode, as the runtime has it); the
dev side sees the repository and the venv's site-packages.
"""

from __future__ import annotations

import json
import os
import site
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

# What the Lambda Python runtime provides besides the standard library.
RUNTIME_PROVIDED = ("boto3", "botocore", "jmespath", "dateutil", "s3transfer", "urllib3", "six.py")

IMPORT_SCRIPT = """
import importlib, json, sys, time
sys.dont_write_bytecode = True
sys.path[0:0] = json.loads(sys.argv[1])
modules = json.loads(open(sys.argv[2]).read())
t0 = time.perf_counter()
from app import app
for name in modules:
    importlib.import_module(name)
t1 = time.perf_counter()
print(json.dumps({"import": t1 - t0}))
"""

MODULES_SCRIPT = """
import json, sys
sys.path.insert(0, ".")
from app import app
from chalicelib.handlers.alarms import alarm_notification
alarm_notification(json.load(open(sys.argv[1])), None)
skip = {"__main__", "site", "sitecustomize", "_distutils_hack", "_virtualenv"}
print(json.dumps([m for m in sys.modules if m not in skip and "__editable__" not in m]))
"""


def event_modules(app_dir: Path, env: dict[str, str], event_file: str, out: Path) -> Path:
    """The modules a fresh process has loaded after its first alarm event, in load order."""
    done = subprocess.run(
        [sys.executable, "-c", MODULES_SCRIPT, event_file],
        cwd=app_dir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    out.write_text(done.stdout.strip().splitlines()[-1])
    return out


def unpack(package: Path, workdir: Path) -> tuple[Path, Path]:
    """The package unzipped (read-only) and a directory of what the runtime provides."""
    task = workdir / "task"
    with zipfile.ZipFile(package) as zf:
        zf.extractall(task)
    for path in [task, *task.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    runtime = workdir / "runtime"
    runtime.mkdir()
    site_packages = Path(site.getsitepackages()[0])
    for name in RUNTIME_PROVIDED:
        if (site_packages / name).exists():
            (runtime / name).symlink_to(site_packages / name)
    return task, runtime


def _importable(modules: Path, roots: list[Path], out: Path) -> Path:
    """The modules Lambda can import: from the package, the runtime or the standard library
    (the dev venv has more, such as certifi, which botocore uses only when it is there)."""
    tops = set(sys.stdlib_module_names) | set(sys.builtin_module_names) | {"app"}
    for root in roots:
        tops |= {p.name.removesuffix(".py") for p in root.iterdir()}
        tops |= {p.name.split(".")[0] for p in root.glob("*.so")}
    names = [m for m in json.loads(modules.read_text()) if m.split(".")[0] in tops]
    out.write_text(json.dumps(names))
    return out


def _import_once(paths: list[str], modules: Path, cwd: Path) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update({"PYTHONDONTWRITEBYTECODE": "1", "PYDANTIC_DISABLE_PLUGINS": "__all__"})
    done = subprocess.run(
        [sys.executable, "-S", "-c", IMPORT_SCRIPT, json.dumps(paths), str(modules)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"import from {paths[0]} failed:\n{done.stderr[-3000:]}")
    return float(json.loads(done.stdout.strip().splitlines()[-1])["import"])


def import_times(
    package: Path, app_dir: Path, modules: Path, runs: int
) -> tuple[list[float], list[float]]:
    """(package side, dev side) import times, alternating."""
    workdir = Path(tempfile.mkdtemp(prefix="opsbot-bench-package-"))
    task, runtime = unpack(package, workdir)
    modules = _importable(modules, [task, runtime], workdir / "modules-packaged.json")
    dev_site = [p for p in site.getsitepackages() if Path(p).exists()]
    packaged, dev = [], []
    for _ in range(runs):
        packaged.append(_import_once([str(task), str(runtime)], modules, workdir))
        dev.append(_import_once([str(app_dir), *dev_site], modules, workdir))
    return packaged, dev
