"""The only place boto3 clients are made: lazy, cached, per account, with retries.

Clients for opsbot's own resources (table, queue, topics, parameters) use the function's
credentials. Clients for an environment use that environment's role when the policy names one
(the cross-account role pattern): credentials come from STS AssumeRole and are refreshed by
botocore before they expire. A ``role_arn`` holding ``{function}`` names one role per opsbot
function (``infra/member-account.yaml``): each function assumes its own (the one its handler
named: ``core.invocation``). The role session is named after who acts and for which deployment
(``session_name``), so the member account's CloudTrail shows it on every call
(``assumed-role/opsbot-work/alice@d-0123``); credentials are cached per role and session name.

One botocore data loader serves every session (the home one and each assumed-role one), so a
service's model is read and parsed once per process, whichever account a client is for.
``reset`` drops clients, sessions and their pooled connections and credentials but keeps that
loader: what a SnapStart restore needs (``handlers.snapstart``).
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.core.invocation import current_function

if TYPE_CHECKING:
    import boto3


class Account(Protocol):
    """Where an environment's clients point: its region and, across accounts, its role."""

    @property
    def region(self) -> str: ...

    @property
    def role_arn(self) -> str | None: ...


_lock = threading.Lock()
_loader: list[Any] = []  # the one botocore data loader (made with the first session)
_sessions: dict[str, boto3.Session] = {}
_sessions_named: dict[tuple[str, str], boto3.Session] = {}
_clients: dict[tuple[str, str, str, str], Any] = {}

FUNCTION = "{function}"  # in a role_arn: the name of the opsbot function that assumes it
_ROLE_SESSION_NAME = "opsbot"
_ROLE_DURATION_SECONDS = 3600
_MAX_NAMED_SESSIONS = 32  # one per recent actor/deployment; the oldest are forgotten
_NOT_IN_SESSION_NAME = re.compile(r"[^\w+=,.@-]", re.ASCII)


def session_name(actor: str | None = None, deployment_id: str | None = None) -> str:
    """A RoleSessionName carrying the actor and the deployment id: ``alice@d-0123``.

    IAM allows ``[\\w+=,.@-]{2,64}``: other characters become ``-``; the actor is shortened
    so that the deployment id always fits whole.
    """
    actor_part = _NOT_IN_SESSION_NAME.sub("-", actor or "")
    deployment = _NOT_IN_SESSION_NAME.sub("-", deployment_id or "")[:64]
    if not deployment:
        name = actor_part[:64]
    elif not actor_part:
        name = deployment
    else:
        name = f"{actor_part[: 63 - len(deployment)]}@{deployment}".lstrip("@")
    return name if len(name) >= 2 else _ROLE_SESSION_NAME


def role_arn(environment: Account) -> str:
    """The role to assume for ``environment`` ("" for none): its ``role_arn``, with
    ``{function}`` replaced by the running function's name (a role per function); a
    ``role_arn`` without it is one role shared by every function, as before."""
    arn = environment.role_arn or ""
    if FUNCTION not in arn:
        return arn
    function = current_function()
    if not function:
        raise RuntimeError(
            f"{arn} names a role per function, but no handler named the function it runs in"
        )
    return arn.replace(FUNCTION, function)


def _config() -> Any:
    from botocore.config import Config

    return Config(
        retries={"mode": "standard", "total_max_attempts": 5},
        connect_timeout=3,
        read_timeout=10,
        user_agent_extra="opsbot",
    )


def _botocore_session() -> Any:
    """A new botocore session on the process's one data loader (models parsed once)."""
    from botocore.session import get_session

    session = get_session()
    if _loader:
        session.register_component("data_loader", _loader[0])
    else:
        _loader.append(session.get_component("data_loader"))
    return session


def _home_session() -> boto3.Session:
    import boto3

    session = _sessions.get("")
    if session is None:
        session = boto3.Session(botocore_session=_botocore_session())
        _sessions[""] = session
    return session


def _assumed_session(role_arn: str, region: str, name: str = _ROLE_SESSION_NAME) -> boto3.Session:
    """A session whose credentials come from AssumeRole and refresh themselves."""
    import boto3
    from botocore.credentials import DeferredRefreshableCredentials

    sts = _home_session().client("sts", region_name=region, config=_config())

    def refresh() -> dict[str, str]:
        creds = sts.assume_role(
            RoleArn=role_arn,
            RoleSessionName=name,
            DurationSeconds=_ROLE_DURATION_SECONDS,
        )["Credentials"]
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": creds["Expiration"].isoformat(),
        }

    botocore_session = _botocore_session()
    # Deferred: the first AssumeRole happens on the first call, and botocore refreshes the
    # credentials before they expire (the pattern of botocore's own assume-role provider).
    botocore_session._credentials = DeferredRefreshableCredentials(
        refresh_using=refresh, method="sts-assume-role"
    )
    botocore_session.set_config_variable("region", region)
    return boto3.Session(botocore_session=botocore_session)


def _role_session(role: str, region: str, name: str) -> boto3.Session:
    """The assumed-role session of ``role`` named ``name`` (the default name: never forgotten)."""
    if name == _ROLE_SESSION_NAME:
        session = _sessions.get(role)
        if session is None:
            session = _sessions[role] = _assumed_session(role, region)
        return session
    session = _sessions_named.pop((role, name), None) or _assumed_session(role, region, name)
    _sessions_named[(role, name)] = session  # most recent last
    while len(_sessions_named) > _MAX_NAMED_SESSIONS:
        oldest = next(iter(_sessions_named))
        del _sessions_named[oldest]
        for key in [k for k in _clients if (k[2], k[3]) == oldest]:
            del _clients[key]
    return session


def client(service: str, environment: Account | None = None, session: str | None = None) -> Any:
    """A cached boto3 client for ``service``, in ``environment``'s account when given.

    ``session`` names the assumed-role session (``session_name(actor, deployment_id)``) when the
    environment has a role; opsbot's own account has no role session to name.
    """
    from chalicelib.core.settings import get_settings

    region = environment.region if environment else get_settings().region
    role = role_arn(environment) if environment else ""
    name = (session or _ROLE_SESSION_NAME) if role else ""
    key = (service, region, role, name)
    cached = _clients.get(key)
    if cached is not None:
        return cached
    with _lock:
        cached = _clients.get(key)
        if cached is None:
            boto_session = _role_session(role, region, name) if role else _home_session()
            cached = boto_session.client(service, region_name=region, config=_config())  # type: ignore[call-overload]
            _clients[key] = cached
        return cached


class LazyClient:
    """A client made on first use: a handler that never touches a service never pays for it."""

    def __init__(self, service: str, environment: Account | None = None) -> None:
        self._service = service
        self._environment = environment

    def __getattr__(self, name: str) -> Any:
        return getattr(client(self._service, self._environment), name)


def preload(services: tuple[str, ...]) -> None:
    """Parse these services' models into the shared loader now (before a SnapStart snapshot):
    a client made after ``reset`` then costs no model loading."""
    for service in services:
        client(service)
    reset()


def reset() -> None:
    """Forget every cached client and session, with their pooled connections and credentials
    (tests, a settings change, a SnapStart restore); the parsed models stay."""
    with _lock:
        _clients.clear()
        _sessions.clear()
        _sessions_named.clear()
