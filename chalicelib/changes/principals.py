"""Which CloudTrail events are opsbot's own: its user agent AND one of its principals.

A user agent is whatever the caller says (``Config(user_agent_extra='opsbot')`` is one line of
boto3), so it alone hides nothing: an event is opsbot's own only when its ``userIdentity`` is
also one of opsbot's principals. For an environment with a ``role_arn`` those are the member
role(s) it names (with ``{function}``: any role that template names); for one without, it is
the identity opsbot's own clients call with (STS ``GetCallerIdentity``, asked once per process
and only when an event claims to be opsbot's), with the function's name in its role read as
``{function}`` too (one execution role per function).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.core.invocation import current_function

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.domain.policy import Environment

FUNCTION = "{function}"  # as in a role_arn (aws.clients)
_NAME = r"[\w+=,.@-]+"  # an IAM name's characters
_ROLE = re.compile(r"^arn:aws[a-z-]*:iam::(?P<account>\d{12}):role/(?:.*/)?(?P<name>[^/]+)$")
_ASSUMED = re.compile(r"^arn:aws[a-z-]*:sts::(?P<account>\d{12}):assumed-role/(?P<name>[^/]+)/")
_USER = re.compile(
    r"^arn:aws[a-z-]*:(?:iam|sts)::(?P<account>\d{12}):user/(?:.*/)?(?P<name>[^/]+)$"
)
_ROOT = re.compile(r"^arn:aws[a-z-]*:iam::(?P<account>\d{12}):root$")

_lock = threading.Lock()
_home: list[Principal] = []  # opsbot's own identity, once per process


@dataclass(frozen=True)
class Principal:
    """An AWS principal as far as telling it apart matters: account, kind and name (for
    opsbot's own, a regular expression: a role per function)."""

    account: str
    kind: str  # "role", "user" or "root"
    name: str = ""

    def holds(self, other: Principal) -> bool:
        return (self.account, self.kind) == (other.account, other.kind) and (
            re.fullmatch(self.name, other.name) is not None
        )


def parse(arn: str) -> Principal | None:
    """The principal behind an IAM or STS ARN (an assumed role's session is its role)."""
    for pattern, kind in ((_ROLE, "role"), (_ASSUMED, "role"), (_USER, "user"), (_ROOT, "root")):
        match = pattern.match(arn)
        if match is not None:
            return Principal(match["account"], kind, match.groupdict().get("name") or "")
    return None


def owner(arn: str, function: str = "") -> Principal | None:
    """opsbot's principal from a ``role_arn`` or its caller identity: a role's ``{function}``
    (or, given ``function``, that function's name in it) matches any function's role."""
    found = parse(arn)
    if found is None:
        return None
    name = found.name
    if function and found.kind == "role" and function in name:
        name = name.replace(function, FUNCTION)
    pattern = _NAME.join(re.escape(part) for part in name.split(FUNCTION))
    return Principal(found.account, found.kind, pattern)


def of_event(identity: dict[str, Any]) -> Principal | None:
    """Who made a CloudTrail event: its ``userIdentity`` (a session's role, a user, root)."""
    issuer = (identity.get("sessionContext") or {}).get("sessionIssuer") or {}
    return parse(str(issuer.get("arn") or identity.get("arn") or ""))


class Owners:
    """opsbot's principals for one environment, the home identity looked up on first need."""

    def __init__(self, deps: Deps, env: Environment) -> None:
        self._deps = deps
        self._env = env
        self._mine: list[Principal | None] = []  # looked up once per feed

    def own(self, identity: dict[str, Any]) -> bool:
        """Whether ``identity`` (an event's ``userIdentity``) is one of opsbot's principals."""
        actor = of_event(identity)
        if actor is None:
            return False
        if not self._mine:
            self._mine.append(owner(self._env.role_arn) if self._env.role_arn else self._home())
        mine = self._mine[0]
        return mine is not None and mine.holds(actor)

    def _home(self) -> Principal | None:
        from botocore.exceptions import BotoCoreError, ClientError

        with _lock:
            if not _home:
                try:
                    arn = self._deps.aws("sts", self._env).get_caller_identity()["Arn"]
                except (ClientError, BotoCoreError):
                    return None  # unknown: nothing with opsbot's user agent is hidden
                found = owner(str(arn), current_function())
                if found is None:
                    return None
                _home.append(found)
            return _home[0]


def forget() -> None:
    """Forget opsbot's home identity (tests with another account)."""
    with _lock:
        _home.clear()
