"""Credentials resolved on the first signed request, not when a client is built.

botocore resolves a session's credentials when it builds the first client (``create_client``
calls ``get_credentials``). A SnapStart function builds its clients before the snapshot
(``handlers.prime``), and what it resolved then would be in every restored copy. A session
whose ``_credentials`` is a ``DeferredCredentials`` builds its clients without resolving
anything: the provider chain (environment, container endpoint, ...) is asked on the first
request a client signs, after the restore, and ``forget`` makes the next request ask again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from botocore.credentials import Credentials, ReadOnlyCredentials
from botocore.exceptions import NoCredentialsError


class DeferredCredentials(Credentials):
    """Credentials that ask ``resolve`` (the session's provider chain) on first use.

    What ``resolve`` returns (refreshable or not) is asked for every signature, so credentials
    that refresh themselves keep doing so.
    """

    def __init__(self, resolve: Callable[[], Credentials | None]) -> None:
        # no super().__init__: it would store the key attributes this class resolves lazily
        self._resolve = resolve
        self._lock = threading.Lock()
        self._resolved: Credentials | None = None

    @property
    def resolved(self) -> bool:
        """Whether the provider chain was asked (and answered) since the last ``forget``."""
        return self._resolved is not None

    def forget(self) -> None:
        """Drop what was resolved: the next request asks the provider chain again."""
        with self._lock:
            self._resolved = None

    def _inner(self) -> Credentials:
        resolved = self._resolved
        if resolved is None:
            with self._lock:
                if self._resolved is None:
                    self._resolved = self._resolve()
                resolved = self._resolved
        if resolved is None:
            raise NoCredentialsError()
        return resolved

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        return self._inner().get_frozen_credentials()

    # What botocore reads from a Credentials object besides the frozen set.
    @property
    def access_key(self) -> str:  # type: ignore[override]
        return str(self._inner().access_key)

    @property
    def secret_key(self) -> str:  # type: ignore[override]
        return str(self._inner().secret_key)

    @property
    def token(self) -> str | None:  # type: ignore[override]
        return self._inner().token

    @property
    def account_id(self) -> str | None:
        return getattr(self._inner(), "account_id", None)

    @property
    def method(self) -> str:  # type: ignore[override]
        return "deferred" if self._resolved is None else str(self._resolved.method)


def defer(botocore_session: Any) -> DeferredCredentials:
    """Make ``botocore_session`` resolve its credentials on first use; the deferred object.

    Building the provider chain reads configuration only (no credentials, no network), so it
    is built now; asking it is left to the first signed request.
    """
    chain = botocore_session.get_component("credential_provider")
    deferred = DeferredCredentials(chain.load_credentials)
    botocore_session._credentials = deferred  # what get_credentials() returns from now on
    return deferred
