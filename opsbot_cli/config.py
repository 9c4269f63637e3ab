"""Where ``opsbot`` finds the API and its token: the environment, else a profile file.

* ``OPSBOT_URL`` (default: the profile's ``url``, else ``http://127.0.0.1:${OPSBOT_API_PORT:-8000}``)
* ``OPSBOT_API_TOKEN`` (default: the profile's ``token``)
* ``OPSBOT_ENVIRONMENT``: the default of ``--env`` (else the profile's ``environment``, else demo)

The profile is a JSON file ``{"url", "token", "environment"}``: ``OPSBOT_PROFILE`` if set, else
``profile.json`` in ``OPSBOT_LOCAL_DIR``, else ``.opsbot/local/profile.json`` in the current
directory or in the checkout this package lives in. ``make run`` writes the latter for the local
admin (and removes it when it stops).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROFILE_NAME = "profile.json"
_CHECKOUT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Config:
    """The API to talk to, and as whom."""

    url: str
    token: str
    environment: str
    profile: Path | None = None


def profile_paths(environ: Mapping[str, str]) -> list[Path]:
    """Where a profile may be, in the order they are tried."""
    if environ.get("OPSBOT_PROFILE"):
        return [Path(environ["OPSBOT_PROFILE"])]
    paths = []
    if environ.get("OPSBOT_LOCAL_DIR"):
        paths.append(Path(environ["OPSBOT_LOCAL_DIR"]) / PROFILE_NAME)
    paths.append(Path.cwd() / ".opsbot" / "local" / PROFILE_NAME)
    paths.append(_CHECKOUT / ".opsbot" / "local" / PROFILE_NAME)
    return paths


def _read_profile(environ: Mapping[str, str]) -> tuple[dict[str, Any], Path | None]:
    for path in profile_paths(environ):
        try:
            return dict(json.loads(path.read_text())), path
        except (OSError, ValueError):
            continue
    return {}, None


def load(environ: Mapping[str, str] | None = None) -> Config:
    """The configuration: each setting from the environment first, then the profile."""
    env = os.environ if environ is None else environ
    profile, path = _read_profile(env)
    default_url = f"http://127.0.0.1:{env.get('OPSBOT_API_PORT') or '8000'}"
    return Config(
        url=(env.get("OPSBOT_URL") or str(profile.get("url") or default_url)).rstrip("/"),
        token=env.get("OPSBOT_API_TOKEN") or str(profile.get("token") or ""),
        environment=env.get("OPSBOT_ENVIRONMENT") or str(profile.get("environment") or "demo"),
        profile=path,
    )


def write_profile(path: Path, *, url: str, token: str, environment: str = "demo") -> None:
    """Write a profile readable by its owner only (it holds a bearer token)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"url": url, "token": token, "environment": environment}, fh, indent=2)
