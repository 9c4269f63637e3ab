"""How ``pytest -n N`` (pytest-xdist) shares the suite between its workers.

Each worker is a process of its own, with its own fixtures: a fixture of session or module scope
is made once per worker that runs a test needing it. So the tests that share an expensive
fixture go to one worker, as one unit of work, in collection order:

- every test of a module under a directory whose ``conftest.py`` has a session-scoped fixture
  (tests/e2e: its tests were written for a shared stack, several to a module; each worker that
  runs e2e modules starts one stack of its own), module by module;
- every test of a module that has (or whose directory's ``conftest.py`` has) a fixture of module,
  class or package scope (the packaged app, the IAM code scan), module by module;
- every other test on its own, to whichever worker is free.

The e2e modules go first (they mostly wait on their stack, so other workers' tests use the
CPU meanwhile; the schemathesis run, the longest, first of all), then the other modules largest
first, then single tests, which even out the end. The controller sees only test ids, so this
reads the fixtures' scopes from the source (``scope="module"``).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
_SESSION = re.compile(r"""scope\s*=\s*["']session["']""")
_MODULE = re.compile(r"""scope\s*=\s*["'](module|class|package)["']""")


@functools.cache
def _source(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _conftests(module: Path) -> list[Path]:
    """The conftest.py files that apply to a test module under tests/, nearest first."""
    found = []
    directory = module.parent
    while directory == TESTS or TESTS in directory.parents:
        if (directory / "conftest.py").exists():
            found.append(directory / "conftest.py")
        directory = directory.parent
    return found


@functools.cache
def scope_of(nodeid: str) -> tuple[int, str]:
    """(rank, unit) of a test id: rank 0 a module sharing a session fixture, 1 a module
    sharing a module fixture, 2 a test on its own."""
    path = nodeid.split("::", 1)[0]
    module = ROOT / path
    conftests = _conftests(module)
    if any(_SESSION.search(_source(conftest)) for conftest in conftests):
        return 0, path
    if _MODULE.search(_source(module)) or any(_MODULE.search(_source(c)) for c in conftests):
        return 1, path
    return 2, nodeid


class SharedFixtureScheduling(LoadScopeScheduling):
    """xdist's scope scheduling with the units of this module's docstring."""

    collection: list[str] | None  # LoadScopeScheduling's: the tests, once every worker collected

    def __init__(self, config: pytest.Config, log: Any = None) -> None:
        super().__init__(config, log)
        config.option.loadscopereorder = False  # the order is chosen here

    def _split_scope(self, nodeid: str) -> str:
        return scope_of(nodeid)[1]

    def schedule(self) -> None:
        """LoadScopeScheduling's first distribution, with the units in ``_ordered``'s order.

        The workers' collections stay as the workers collected them: the controller sends each
        worker indices into its own collection, and a worker reports each test by that index.
        """
        assert self.collection_is_completed
        collections = list(self.registered_collections.values())
        if (
            self.collection is not None
            or not collections
            or any(c != collections[0] for c in collections)  # xdist reports the difference
        ):
            super().schedule()
            return
        collected: list[str] = list(collections[0])
        self.collection = collected
        if not collected:
            return
        for nodeid in self._ordered(collected):
            self.workqueue.setdefault(self._split_scope(nodeid), {})[nodeid] = False
        for _ in range(len(self.nodes) - len(self.workqueue)):  # more workers than units
            unused, _nothing = self.assigned_work.popitem()
            unused.shutdown()
        for node in self.nodes:
            self._assign_work_unit(node)
        for node in self.nodes:
            self._reschedule(node)
        if not self.workqueue:
            for node in self.nodes:
                node.shutdown()

    @staticmethod
    def _ordered(collection: list[str]) -> list[str]:
        """Session-fixture modules first, then other modules largest first, then single tests;
        within a unit, collection order."""
        sizes: dict[str, int] = {}
        for nodeid in collection:
            unit = scope_of(nodeid)[1]
            sizes[unit] = sizes.get(unit, 0) + 1

        def key(nodeid: str) -> tuple[int, int, int]:
            rank, unit = scope_of(nodeid)
            longest = rank == 0 and "mark.schemathesis" in _source(ROOT / unit)
            return rank, 0 if longest else 1, -sizes[unit] if rank < 2 else 0

        return sorted(collection, key=key)
