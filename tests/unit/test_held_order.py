"""The order held reactions are applied in, and which of them cancel out (``held_order``)."""

from __future__ import annotations

import pytest

from chalicelib.alarms.held_order import in_order
from chalicelib.records.guards import HeldReaction


def held(key: str, state: str, second: int, alarm: str = "web-cpu-high") -> HeldReaction:
    return HeldReaction(
        environment="demo",
        bucket="2026-11-20T09:15",
        key=f"demo/web#{key}",
        rule=alarm,
        state=state,
        alarm=alarm,
        target="demo/web",
        at="2026-11-20T09:15:59Z",  # when held: the same second for all
        reason="cap",
        changed=f"2026-11-20T09:15:{second:02d}.000+0000",
    )


@pytest.mark.parametrize(
    ("states", "applied"),
    [
        ("ALARM OK ALARM", ["ALARM@2"]),
        ("ALARM OK", []),
        ("OK ALARM OK", ["OK@2"]),
        ("ALARM OK ALARM OK", []),
        ("OK", ["OK@0"]),
    ],
)
def test_one_alarms_reactions_on_one_target_net_out(states: str, applied: list[str]) -> None:
    # keys sort the other way round from the times: the times decide
    reactions = [held(f"{9 - i}", s, i) for i, s in enumerate(states.split())]
    ordered = in_order(reactions)
    assert [h.changed for h, _ in ordered] == sorted(h.changed or "" for h in reactions)
    assert [f"{h.state}@{int((h.changed or '')[17:19])}" for h, o in ordered if o is None] == (
        applied
    )


def test_two_alarms_on_one_target_net_out_each_on_their_own() -> None:
    reactions = [
        held("a", "ALARM", 1, "web-cpu-high"),
        held("b", "OK", 2, "web-memory-high"),
        held("c", "OK", 3, "web-cpu-high"),
    ]
    left = [(h.alarm, h.state) for h, other in in_order(reactions) if other is None]
    assert left == [("web-memory-high", "OK")]
