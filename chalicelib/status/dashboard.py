"""Dashboard tokens: read-only bearer tokens valid for an hour (``/opsbot dashboard``).

A token is ``opsbot-read-`` and 32 random bytes (URL-safe); only its sha256 is stored, with the
principal, the scope (``read``) and its expiry (also the item's TTL). At auth time the expiry is
checked against the clock: DynamoDB's TTL deletes an expired item only eventually.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING

from chalicelib.core.clock import iso
from chalicelib.core.errors import Forbidden
from chalicelib.records.session import ReadToken

if TYPE_CHECKING:
    from chalicelib.deps import Deps

PREFIX = "opsbot-read-"
SCOPE = "read"
LIFETIME_SECONDS = 3600


def digest(token: str) -> str:
    """How tokens are stored and looked up (as the API tokens are)."""
    return hashlib.sha256(token.encode()).hexdigest()


def mint_read_token(deps: Deps, principal: str, *, lifetime: int = LIFETIME_SECONDS) -> str:
    """A new read-only token for ``principal`` (who must be able to read somewhere)."""
    if not deps.policy.readable(principal):
        raise Forbidden(f"{principal} may not read any environment", principal=principal)
    now = deps.clock()
    token = PREFIX + secrets.token_urlsafe(32)
    record = ReadToken(
        principal=principal,
        scope=SCOPE,
        valid_until=int(now.timestamp()) + lifetime,
        created_at=iso(now),
    )
    deps.store.put_read_token(digest(token), record)
    return token


def read_token_principal(deps: Deps, token: str) -> str | None:
    """The principal of a valid, unexpired dashboard token; None for any other token."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    record = deps.store.read_token(digest(token))
    if record is None or record.scope != SCOPE:
        return None
    if record.valid_until <= int(deps.clock().timestamp()):
        return None
    return record.principal


def dashboard_link(base_url: str, token: str) -> str:
    """``<base>/ui#token=...``: the fragment never reaches a server."""
    return f"{base_url.rstrip('/')}/ui#token={token}"
