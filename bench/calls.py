"""Counting and recording AWS calls in a bench process, with botocore's own event hooks.

``install()`` costs nothing measurable and imports nothing heavy: it waits for the process to
import ``botocore.session`` and then registers, on every botocore session made from then on,

- ``before-parameter-build.*``: the call as the caller made it (service, operation, parameters);
- ``after-call.*``: the call AWS answered (its parsed answer, an error included).

Opsbot and the floor are counted the same way in the same run, so "the same AWS calls" is
checked, not assumed. At exit the calls are written as a pickle to ``$BENCH_CALLS_OUT``.
"""

from __future__ import annotations

import atexit
import importlib.abc
import importlib.util
import os
import pickle
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Call:
    """One AWS call: what was asked and what AWS answered."""

    service: str  # boto3's name: "ecs", "application-autoscaling"
    operation: str  # the client method: "describe_services"
    params: dict[str, Any]
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def op(self) -> str:
        """``service:operation``, the unit of the call counts."""
        return f"{self.service}:{self.operation}"


CALLS: list[Call] = []
_pending: list[Call] = []
_paused: list[bool] = []  # non-empty: record nothing (the warm bench's timed runs)


def pause() -> None:
    """Stop recording (the hooks stay registered but return at once)."""
    _paused.append(True)


def _before(params: dict[str, Any], model: Any, **_: Any) -> None:
    if _paused:
        return
    from botocore import xform_name

    call = Call(model.service_model.service_name, xform_name(model.name), _copy(params))
    _pending.append(call)


def _after(parsed: dict[str, Any], model: Any, **_: Any) -> None:
    if _paused:
        return
    from botocore import xform_name

    name = (model.service_model.service_name, xform_name(model.name))
    for i in range(len(_pending) - 1, -1, -1):  # the latest unanswered call of that operation
        if (_pending[i].service, _pending[i].operation) == name:
            call = _pending.pop(i)
            break
    else:
        call = Call(*name, {})
    call.response = _copy(parsed)
    CALLS.append(call)


def _copy(value: Any) -> Any:
    """A deep copy of a botocore dict (bytes, datetimes and streams of an answer survive or go)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if hasattr(value, "read") and not isinstance(value, bytes | str):
        return None
    return value


def _patch(session_module: Any) -> None:
    cls = session_module.Session
    original = cls.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.register("before-parameter-build", _before)
        self.register("after-call", _after)

    cls.__init__ = __init__


class _Finder(importlib.abc.MetaPathFinder):
    """Patches ``botocore.session`` as it is imported (not before: that would cost time)."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != "botocore.session":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_and_patch(module: Any) -> None:
            exec_module(module)
            _patch(module)

        loader.exec_module = exec_and_patch  # type: ignore[method-assign]
        return spec


def install() -> None:
    """Count every AWS call this process makes from now on; write them at exit when
    ``BENCH_CALLS_OUT`` names a file."""
    if "botocore.session" in sys.modules:
        _patch(sys.modules["botocore.session"])
    else:
        sys.meta_path.insert(0, _Finder())
    out = os.environ.get("BENCH_CALLS_OUT")
    if out:
        atexit.register(lambda: write(out, CALLS))


def write(path: str, calls: Sequence[Call]) -> None:
    """Save calls (a pickle: botocore answers hold datetimes and bytes)."""
    with open(path, "wb") as f:
        pickle.dump(list(calls), f)


def read(path: str) -> list[Call]:
    """Calls saved by ``write``."""
    with open(path, "rb") as f:
        return list(pickle.load(f))


def counts(calls: Sequence[Call]) -> Counter[str]:
    """How many calls of each ``service:operation``."""
    return Counter(c.op for c in calls)
