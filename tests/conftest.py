"""What every test process shares: work done once per process instead of once per test.

- One botocore data loader for every botocore session made here. ``mock_aws`` gives each test a
  new default boto3 session (so new clients read its credentials), and each new session would
  otherwise read and parse the same service models and endpoint data again (about 0.1 s of CPU
  a test). The loader only caches parsed JSON files; the product's own clients module does the
  same for the Lambda's sessions (``chalicelib.aws.clients``).
- One RSA key for moto's SNS message signatures: moto makes a 2048-bit key per subscription
  (its ``lru_cache`` is per object, and every test's moto is new), which is most of the cost of
  a publish. Messages are still signed, with the same key each time.

Both only change how fast the emulator and botocore work, not what they answer.
"""

from __future__ import annotations

import functools
from typing import Any

import botocore.loaders
import botocore.session
import pytest

_create_loader = botocore.loaders.create_loader


@functools.cache
def _loader(search_path_string: str | None = None) -> Any:
    return _create_loader(search_path_string)


botocore.session.create_loader = _loader


def _share_the_sns_signing_key() -> None:
    from moto.sns.models import Subscription

    original: Any = Subscription.private_key

    @functools.cache
    def key() -> Any:
        return original.__wrapped__(None)  # moto's own key maker, without its per-object cache

    setattr(Subscription, "private_key", lambda self: key())  # noqa: B010


_share_the_sns_signing_key()


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # before xdist's own choice; xdist may be absent
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``-n N`` (``--dist load``, the default, or ``loadgroup``): tests that share an expensive
    fixture run on one worker, so it is made once (tests/scheduling.py)."""
    if config.getvalue("dist") not in ("load", "loadgroup"):
        return None
    from tests.scheduling import SharedFixtureScheduling

    return SharedFixtureScheduling(config, log)
