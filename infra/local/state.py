"""The running stack's record of itself (``stack.json`` in its state dir) and process checks."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

STATE_FILE = "stack.json"


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_stack(state_dir: Path) -> dict[str, Any] | None:
    """What a live stack (not this process) using this state directory wrote, if one runs."""
    try:
        info = dict(json.loads((state_dir / STATE_FILE).read_text()))
    except (OSError, ValueError):
        return None
    return info if pid_alive(int(info.get("pid", 0))) and info.get("pid") != os.getpid() else None


def port_free(port: int) -> bool:
    """Whether 127.0.0.1:port can be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def write_state(state_dir: Path, info: dict[str, Any]) -> None:
    """Record this stack for the control commands."""
    (state_dir / STATE_FILE).write_text(json.dumps(info, indent=2))


def forget_state(state_dir: Path, also: tuple[str, ...] = ()) -> None:
    """Remove stack.json (and the files named in ``also``, such as the CLI profile) if this
    process wrote it (never another running stack's)."""
    state = state_dir / STATE_FILE
    try:
        mine = json.loads(state.read_text()).get("pid") == os.getpid()
    except (OSError, ValueError):
        return
    if mine:
        for name in also:
            (state_dir / name).unlink(missing_ok=True)
        state.unlink(missing_ok=True)
