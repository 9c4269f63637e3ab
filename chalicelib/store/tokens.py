"""Dashboard tokens: ``TOKEN#<sha256 of the token>`` items, removed by DynamoDB's TTL after
their expiry (which the reader checks too: TTL deletion may lag by a day or two)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.store.table import Table

if TYPE_CHECKING:  # imported where used (a function that reads no token never loads it)
    from chalicelib.records.session import ReadToken


def _key(digest: str) -> tuple[str, str]:
    return f"TOKEN#{digest}", "TOKEN"


class TokenStore(Table):
    """Hashed, expiring read-only tokens (the ones ``/opsbot dashboard`` hands out)."""

    def put_read_token(self, digest: str, token: ReadToken) -> None:
        """Remember a token by its sha256 hex digest until ``token.valid_until``."""
        pk, sk = _key(digest)
        self._put(
            {
                "pk": pk,
                "sk": sk,
                "principal": token.principal,
                "scope": token.scope,
                "valid_until": token.valid_until,
                "created_at": token.created_at,
                "expires_at": token.valid_until,
            }
        )

    def read_token(self, digest: str) -> ReadToken | None:
        """The token stored under ``digest`` (expired or not: the caller checks), or None."""
        attrs = self._get(*_key(digest))
        if attrs is None:
            return None
        from chalicelib.records.session import ReadToken

        return ReadToken(
            principal=str(attrs["principal"]),
            scope=str(attrs["scope"]),
            valid_until=int(attrs["valid_until"]),
            created_at=str(attrs.get("created_at", "")),
        )
