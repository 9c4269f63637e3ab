"""Start ``python -m infra.local run`` as a user would (free ports, its own state directory),
wait for ``opsbot ready``, and stop it with Ctrl-C: the e2e tests and ``make load`` share it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Launched:
    """Where a launched stack answers, and the environment its control commands need."""

    api_url: str
    aws_url: str
    state_dir: Path
    env: dict[str, str]

    def run_control(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """``python -m infra.local ARGS`` against this stack, as a user runs it."""
        return subprocess.run(
            [sys.executable, "-m", "infra.local", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def aws(self, service: str) -> Any:
        """A boto3 client on the embedded AWS (reading it directly: never faulted)."""
        import boto3

        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.aws_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


@contextmanager
def launch(
    state_dir: Path,
    *,
    token: str,
    signing_secret: str,
    rollout_seconds: str = "1",
    on_line: Callable[[str], object] = lambda _: None,
    ready_timeout: float = 120,
    stop_timeout: float = 20,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Launched]:
    """The running stack (its environment plus ``extra_env``); every line it prints goes to
    ``on_line``."""
    aws_port, api_port = free_port(), free_port()
    env = {
        **os.environ,
        "OPSBOT_AWS_PORT": str(aws_port),
        "OPSBOT_API_PORT": str(api_port),
        "OPSBOT_API_TOKEN": token,
        "OPSBOT_SLACK_SIGNING_SECRET": signing_secret,
        "OPSBOT_LOCAL_DIR": str(state_dir),
        "OPSBOT_LOCAL_ROLLOUT_SECONDS": rollout_seconds,
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        env.pop(key, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "infra.local", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    ready = threading.Event()
    tail: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            on_line(line)
            tail[:] = [*tail[-59:], line]
            if "opsbot ready" in line:
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        if not ready.wait(ready_timeout):
            raise RuntimeError("local stack not ready:\n" + "".join(tail))
        yield Launched(
            f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{aws_port}", state_dir, env
        )
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=stop_timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
