"""The compiled policy: a policy file validated once and cached, as Python caches bytecode.

``<policy dir>/__pycache__/<file name>.<key>.pickle`` holds the validated ``Policy`` of one
policy file, where ``key`` is the SHA-256 of the file's bytes, the source of every module
that defines the policy's schema (``SCHEMA_MODULES``), and the Python and pydantic versions.
A changed policy, a changed schema or another pydantic gives another key, so a stale cache is
never read; it is simply not found (and replaced by the next write). Reading one costs no YAML
and no validation (unpickling a pydantic model builds no validator).

Written atomically (a temporary file, then a rename) whenever a policy is loaded from YAML and
the directory is writable, unless ``PYTHONDONTWRITEBYTECODE`` is set; ``make package``
compiles the packaged policy (Lambda's ``/var/task`` is read-only) and ``make bench`` the
bench's. The trust model is that of ``.pyc``: whoever can write to ``__pycache__`` beside the
policy can already change the policy (and the code) itself.

    python -m chalicelib.domain.compile_policy POLICY_FILE...   # compile (write it) now

This module knows nothing of the policy's classes (``domain.policy`` uses it).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

# Every opsbot module that importing ``chalicelib.domain.policy`` loads (a unit test holds
# that): their source is part of the key.
SCHEMA_MODULES = (
    "chalicelib.core.errors",
    "chalicelib.domain.access",
    "chalicelib.domain.actions",
    "chalicelib.domain.alarm_rule",
    "chalicelib.domain.approval",
    "chalicelib.domain.environment",
    "chalicelib.domain.limits",
    "chalicelib.domain.policy",
    "chalicelib.domain.policy_base",
    "chalicelib.domain.policy_settings",
    "chalicelib.records.status",
    "chalicelib.records.target",
)


ROOT = Path(__file__).resolve().parents[2]  # the directory that holds chalicelib/


def schema_digest(root: Path = ROOT) -> bytes:
    """What the key takes from the schema: the Python and pydantic versions and the source of
    ``SCHEMA_MODULES`` under ``root``."""
    import pydantic

    digest = hashlib.sha256()
    digest.update(f"{sys.version_info[:2]} pydantic {pydantic.VERSION}\n".encode())
    for name in SCHEMA_MODULES:
        source = root.joinpath(*name.split(".")).with_suffix(".py")
        digest.update(name.encode() + b"\0" + source.read_bytes() + b"\0")
    return digest.digest()


def cache_path(policy_file: Path, data: bytes) -> Path:
    """Where the compiled form of ``policy_file`` (whose bytes are ``data``) is kept."""
    key = hashlib.sha256(schema_digest() + data).hexdigest()
    return policy_file.parent / "__pycache__" / f"{policy_file.name}.{key}.pickle"


def read(policy_file: Path, data: bytes, kind: type[T]) -> T | None:
    """The cached policy (a ``kind``) of this file's bytes under the current schema, or None."""
    try:
        cached = pickle.loads(cache_path(policy_file, data).read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None
    return cached if isinstance(cached, kind) else None


def write(policy_file: Path, data: bytes, policy: object) -> Path:
    """Cache ``policy`` (validated from ``data``) atomically; stale caches of the same file
    are removed. OSError when the directory is not writable."""
    target = cache_path(policy_file, data)
    target.parent.mkdir(exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{policy_file.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pickle.dumps(policy, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    for stale in target.parent.glob(f"{policy_file.name}.*.pickle"):
        if stale != target:
            stale.unlink(missing_ok=True)
    return target


def write_quietly(policy_file: Path, data: bytes, policy: object) -> None:
    """``write`` when bytecode may be written (``sys.dont_write_bytecode``); a read-only
    directory is not an error (the policy is validated from YAML each time)."""
    if sys.dont_write_bytecode:
        return
    with contextlib.suppress(OSError):
        write(policy_file, data, policy)
