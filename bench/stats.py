"""The bench's medians and ratios: each ratio is the median over the runs of a pair of fresh
processes run one after the other, so a machine that slows down slows both sides."""

from __future__ import annotations

import statistics

from bench import cold


def median_ms(values: list[float]) -> float:
    """Median of seconds, in milliseconds."""
    return round(1000 * statistics.median(values), 2)


def side(runs: list[cold.Run]) -> dict[str, float]:
    """Median import, first event and total of one side's runs, in milliseconds."""
    return {
        "import_ms": median_ms([r.imports for r in runs]),
        "event_ms": median_ms([r.event for r in runs]),
        "total_ms": median_ms([r.total for r in runs]),
    }


def ratio(pair: cold.Pair, side: str = "opsbot") -> float:
    """Median over the runs of one side's total (opsbot's, or the libraries') over the floor
    run beside it."""
    pairs = zip(getattr(pair, side), pair.floor, strict=True)
    return round(statistics.median(o.total / f.total for o, f in pairs), 3)


def ratio_to(pair: cold.Pair, side: str) -> float:
    """Median over the runs of opsbot's total over ``side``'s run beside it (our own share)."""
    pairs = zip(pair.opsbot, getattr(pair, side), strict=True)
    return round(statistics.median(o.total / f.total for o, f in pairs), 3)


def event_ratio(pair: cold.Pair) -> float:
    """Median over the runs of opsbot's first event over the floor's calls beside it."""
    pairs = zip(pair.opsbot, pair.floor, strict=True)
    return round(statistics.median(o.event / f.event for o, f in pairs), 3)
