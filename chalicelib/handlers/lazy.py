"""Lazy imports at the handler edge, in one place (Powertools' ``LazyLoader`` shape).

Cold start is a feature: importing the app registers every route and event handler, but no
handler module imports a capability, pydantic, boto3 or Powertools at import time. Each module
named here is imported on first use (``lazy.deploys.request_deploy(...)``); mypy and
import-linter see the real imports under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import importlib
import types
from typing import TYPE_CHECKING, Any


class LazyLoader(types.ModuleType):
    """A module imported on first attribute access (after Powertools' ``shared/lazy_import``).

    Unlike Powertools' it keeps no copy of the module's namespace: every lookup reads the real
    module, so a test that patches a module attribute is seen through the loader too.
    """

    def __init__(self, local_name: str, parent_module_globals: dict[str, Any], name: str) -> None:
        self._local_name = local_name
        self._parent_module_globals = parent_module_globals
        super().__init__(name)

    def _load(self) -> types.ModuleType:
        module = importlib.import_module(self.__name__)
        self._parent_module_globals[self._local_name] = module
        return module

    def __getattr__(self, item: str) -> Any:
        return getattr(self._load(), item)

    def __dir__(self) -> list[str]:
        return dir(self._load())


if TYPE_CHECKING:
    import botocore.exceptions as botocore_exceptions
    import pydantic

    from chalicelib import (
        alarms,
        budgets,
        certificates,
        chatops,
        deploys,
        guards,
        scaling,
        worker,
    )
    from chalicelib.aws import errors as aws_errors
    from chalicelib.aws import parameters
    from chalicelib.domain import events, messages, policy
    from chalicelib.handlers import openapi, wiring
    from chalicelib.status import audit as status_audit
    from chalicelib.status import dashboard as status_dashboard
    from chalicelib.status import dry_run as status_dry_run
    from chalicelib.status import health as status_health
    from chalicelib.status import overview as status_overview
    from chalicelib.status import services as status_services
    from chalicelib.store import idempotency as store_idempotency
else:
    _g = globals()
    botocore_exceptions = LazyLoader("botocore_exceptions", _g, "botocore.exceptions")
    pydantic = LazyLoader("pydantic", _g, "pydantic")
    alarms = LazyLoader("alarms", _g, "chalicelib.alarms")
    budgets = LazyLoader("budgets", _g, "chalicelib.budgets")
    certificates = LazyLoader("certificates", _g, "chalicelib.certificates")
    chatops = LazyLoader("chatops", _g, "chalicelib.chatops")
    deploys = LazyLoader("deploys", _g, "chalicelib.deploys")
    guards = LazyLoader("guards", _g, "chalicelib.guards")
    scaling = LazyLoader("scaling", _g, "chalicelib.scaling")
    status_audit = LazyLoader("status_audit", _g, "chalicelib.status.audit")
    status_dashboard = LazyLoader("status_dashboard", _g, "chalicelib.status.dashboard")
    status_dry_run = LazyLoader("status_dry_run", _g, "chalicelib.status.dry_run")
    status_health = LazyLoader("status_health", _g, "chalicelib.status.health")
    status_overview = LazyLoader("status_overview", _g, "chalicelib.status.overview")
    status_services = LazyLoader("status_services", _g, "chalicelib.status.services")
    worker = LazyLoader("worker", _g, "chalicelib.worker")
    aws_errors = LazyLoader("aws_errors", _g, "chalicelib.aws.errors")
    parameters = LazyLoader("parameters", _g, "chalicelib.aws.parameters")
    store_idempotency = LazyLoader("store_idempotency", _g, "chalicelib.store.idempotency")
    events = LazyLoader("events", _g, "chalicelib.domain.events")
    messages = LazyLoader("messages", _g, "chalicelib.domain.messages")
    policy = LazyLoader("policy", _g, "chalicelib.domain.policy")
    wiring = LazyLoader("wiring", _g, "chalicelib.handlers.wiring")
    openapi = LazyLoader("openapi", _g, "chalicelib.handlers.openapi")
