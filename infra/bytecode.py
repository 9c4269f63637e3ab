"""Bytecode in the Lambda package, and a deterministic zip (``make package`` runs this).

    python -m infra.bytecode out/deployment.zip out/sam.json

Chalice packages sources only (aws/chalice#868), and Lambda's ``/var/task`` is read-only, so
without this every cold start compiles pydantic, Powertools, PyYAML, slack_sdk and opsbot.
Each ``.py`` is compiled by this interpreter, which must be the functions' runtime (the
template's ``Runtime``, e.g. python3.12), with ``--invalidation-mode unchecked-hash``: the
``.pyc`` is used without looking at the source's timestamp (the zip's are all 1980-01-01).
The packaged policy (``chalicelib/policy.yaml``) is compiled too (``chalicelib/domain/compiled.py``:
validated once, by the package's own code and libraries, so a cold start reads no YAML).
The zip is rewritten with its entries sorted, fixed timestamps and modes: the same sources
give the same bytes, so an unchanged app is not redeployed.
"""

from __future__ import annotations

import compileall
import json
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def runtime_of(template: Path) -> str:
    """The one Python runtime of the template's functions (``python3.12``)."""
    resources = json.loads(template.read_text())["Resources"]
    runtimes = {
        r["Properties"].get("Runtime")
        for r in resources.values()
        if r.get("Type") in ("AWS::Serverless::Function", "AWS::Lambda::Function")
    }
    globals_ = json.loads(template.read_text()).get("Globals", {}).get("Function", {})
    runtimes.discard(None)
    if globals_.get("Runtime"):
        runtimes.add(globals_["Runtime"])
    if len(runtimes) != 1:
        raise SystemExit(f"{template}: expected one Python runtime, found {sorted(runtimes)}")
    return str(runtimes.pop())


def compile_tree(root: Path) -> int:
    """Compile every ``.py`` under ``root`` (unchecked-hash); how many were compiled."""
    ok = compileall.compile_dir(
        str(root),
        quiet=2,
        workers=0,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    if not ok:
        raise SystemExit(f"compileall failed under {root}")
    return sum(1 for _ in root.rglob("*.pyc"))


def compile_policy(root: Path) -> Path | None:
    """The package's policy validated and cached beside it, by the package's own code and
    libraries (a fresh interpreter in ``root``); where the cache was written. A fixed hash
    seed: the pickle holds sets (pydantic's fields set), so the same policy gives the same
    bytes and the zip stays deterministic."""
    policy = root / "chalicelib" / "policy.yaml"
    if not policy.exists():
        return None
    done = subprocess.run(
        [sys.executable, "-m", "chalicelib.domain.compile_policy", str(policy)],
        cwd=root,
        env={
            **os.environ,
            "PYTHONPATH": str(root),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"compiling the packaged policy failed:\n{done.stderr[-2000:]}")
    return next((policy.parent / "__pycache__").glob(f"{policy.name}.*.pickle"))


def write_zip(root: Path, target: Path) -> None:
    """``root`` as a zip: entries sorted, 1980-01-01 timestamps, modes 0644 (0755 if
    executable), deflated at level 9: byte for byte the same for the same files."""
    files = sorted(
        (p for p in root.rglob("*") if p.is_file()), key=lambda p: p.relative_to(root).as_posix()
    )
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), FIXED_TIME)
            mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            zf.writestr(info, path.read_bytes(), compresslevel=9)


def add_bytecode(package: Path, template: Path) -> int:
    """Rewrite ``package`` with bytecode for the template's runtime; how many ``.pyc``."""
    runtime = runtime_of(template)
    ours = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if runtime != ours:
        raise SystemExit(
            f"{template} runs {runtime} but this is {ours}: bytecode is per Python version "
            "(run make package with the venv of the runtime's Python)"
        )
    with tempfile.TemporaryDirectory(prefix="opsbot-package-") as tmp:
        tree = Path(tmp) / "tree"
        with zipfile.ZipFile(package) as zf:
            zf.extractall(tree)
        for stale in [*tree.rglob("__pycache__")]:
            shutil.rmtree(stale)
        for stale in tree.rglob("*.pyc"):
            stale.unlink()
        compiled = compile_tree(tree)
        compile_policy(tree)
        rebuilt = Path(tmp) / "deployment.zip"
        write_zip(tree, rebuilt)
        shutil.move(str(rebuilt), package)
    return compiled


def main(argv: list[str]) -> int:
    """``python -m infra.bytecode ZIP TEMPLATE``."""
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    package, template = Path(argv[1]), Path(argv[2])
    compiled = add_bytecode(package, template)
    size = package.stat().st_size / 1e6
    print(f"{package}: {compiled} .pyc for {runtime_of(template)}, {size:.1f} MB, deterministic")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
