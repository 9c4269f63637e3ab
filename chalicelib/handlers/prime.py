"""SnapStart priming: a function's init does, once, the work of a first event that is the same
for every invocation, so that the snapshot holds it (AWS's guidance for SnapStart: "prime").

Only when Lambda initialises a function for a snapshot (``AWS_LAMBDA_INITIALIZATION_TYPE`` is
``snap-start``; ``handlers.snapstart`` runs ``prime`` in its before-snapshot hook). Anywhere else
(the local stack, tests, an on-demand init) nothing here runs and imports stay lazy.

Per function (``PLANS``, by the Chalice function name Lambda's ``_HANDLER`` names), priming:

- imports every module its handlers can reach: opsbot's packages whole (their lazy
  ``__getattr__`` would otherwise defer a submodule to the first event) and the libraries
  opsbot imports inside functions on that path (``tests/unit/test_prime.py`` derives both from
  the code and fails when one is missing);
- builds the pydantic validators of every model and TypeAdapter those modules define
  (``defer_build`` models build on first use otherwise);
- reads the settings and the compiled policy, builds the dependencies (``wiring.get_deps``),
  the Powertools logger and the idempotency layers of the function's scopes;
- builds the botocore clients the function calls (IAM grants exactly those) on the one home
  session, with credentials deferred (``aws.credentials``): no credentials are resolved and
  no request is made, so none are in the snapshot; the SSM client that reads the Slack secrets
  is built, no secret is read (``aws.parameters`` stays empty).

After each restore ``snapstart.after_restore`` reseeds ``random`` and drops the clients' pooled
connections; the first signed request resolves this copy's own credentials.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from dataclasses import dataclass, field

# Opsbot's own modules every function reaches: settings, clients, the store, the policy.
CORE_PACKAGES = (
    "chalicelib.core",
    "chalicelib.aws",
    "chalicelib.store",
    "chalicelib.domain",
    "chalicelib.records",
    "chalicelib.deps",
    "chalicelib.handlers.wiring",
)
# Libraries opsbot imports inside functions (the first event would pay for them).
CORE_LIBRARIES = (
    "boto3",
    "boto3.dynamodb.types",
    "botocore.config",
    "botocore.credentials",
    "botocore.exceptions",
    "botocore.session",
    "pydantic",
    "yaml",  # only when the compiled policy does not match (reading it falls back to YAML)
    "aws_lambda_powertools",
    "aws_lambda_powertools.metrics",
    "aws_lambda_powertools.metrics.functions",
    "aws_lambda_powertools.utilities.idempotency",
    "aws_lambda_powertools.utilities.idempotency.exceptions",
    "slack_sdk.webhook",
    "slack_sdk",  # WebClient: the Slack bot's chat.postMessage (when a bot token is set)
    "slack_sdk.errors",
    "datetime",
    "decimal",
    "fnmatch",
)
# Every function reads and writes the state table and reads its parameters from SSM.
CORE_SERVICES = ("dynamodb", "ssm")


@dataclass(frozen=True)
class Plan:
    """What one function primes besides the core."""

    packages: tuple[str, ...]
    services: tuple[str, ...]
    libraries: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()  # Store.once scopes: their idempotency layers
    all_packages: tuple[str, ...] = field(init=False)
    all_services: tuple[str, ...] = field(init=False)
    all_libraries: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "all_packages", (*CORE_PACKAGES, *self.packages))
        object.__setattr__(self, "all_services", (*CORE_SERVICES, *self.services))
        object.__setattr__(self, "all_libraries", (*CORE_LIBRARIES, *self.libraries))


_SCALE = ("ecs", "application-autoscaling", "autoscaling", "budgets")
_DEPLOY = ("chalicelib.deploys",)
_ROTATE = ("acm", "elbv2", "route53", "sns")

PLANS: dict[str, Plan] = {
    "alarm_notification": Plan(
        packages=("chalicelib.alarms", "chalicelib.scaling", "chalicelib.budgets"),
        services=("sns", "sqs", *_SCALE),
        scopes=("alarm",),
    ),
    "work": Plan(
        packages=(
            "chalicelib.worker",
            *_DEPLOY,
            "chalicelib.alarms",
            "chalicelib.scaling",
            "chalicelib.budgets",
            "chalicelib.guards",
            "chalicelib.changes",
        ),
        services=("sqs", "sns", "cloudwatch", "cloudtrail", "elbv2", *_SCALE),
        libraries=(
            "aws_lambda_powertools.utilities.batch",
            "aws_lambda_powertools.utilities.data_classes.sqs_event",
        ),
        scopes=("alarm-retry",),
    ),
    "ecs_deployment_state": Plan(_DEPLOY, ("ecs", "sns", "sqs"), scopes=("ecs-event",)),
    "ecs_task_state": Plan(_DEPLOY, ("ecs", "sns", "sqs"), scopes=("ecs-task-event",)),
    "acm_certificate_event": Plan(("chalicelib.certificates",), _ROTATE, scopes=("acm-event",)),
    "certificates": Plan(("chalicelib.certificates",), _ROTATE),
    "budgets": Plan(("chalicelib.budgets",), ("budgets", "ce", "sns")),
    "sweeper": Plan(_DEPLOY, ("sqs",)),
    "api_handler": Plan(
        packages=(
            "chalicelib.handlers",
            "chalicelib.status",
            "chalicelib.chatops",
            *_DEPLOY,
            "chalicelib.scaling",
            "chalicelib.certificates",
            "chalicelib.budgets",
            "chalicelib.guards",
            "chalicelib.changes",
            "chalicelib.alarms",  # a press of "Approve held changes" applies them
        ),
        services=(
            "cloudtrail",
            "sqs",
            "sns",
            "ecr",
            "ecs",
            "application-autoscaling",
            "acm",
            "elbv2",
            "budgets",
        ),
    ),
}


def function_name(handler: str | None = None) -> str:
    """The Chalice function Lambda runs here, from ``_HANDLER`` (``app.work``; the API's is
    ``app.app``); ``api_handler`` (everything) when it names none of ours."""
    name = (handler if handler is not None else os.environ.get("_HANDLER", "")).rsplit(".", 1)[-1]
    return name if name in PLANS else "api_handler"


def modules_of(package: str) -> list[str]:
    """A module and, for a package, every module under it."""
    module = importlib.import_module(package)
    names = [package]
    path = getattr(module, "__path__", None)
    if path is not None:
        for info in pkgutil.walk_packages(path, prefix=f"{package}."):
            names.append(info.name)
    return names


def import_all(plan: Plan) -> list[str]:
    """Import the plan's modules (opsbot's and the libraries); their names."""
    names = [name for package in plan.all_packages for name in modules_of(package)]
    names += plan.all_libraries
    for name in names:
        importlib.import_module(name)
    return names


def build_models(module_names: list[str]) -> int:
    """Build the validator of every pydantic model and TypeAdapter these modules define; how
    many were built."""
    from pydantic import BaseModel, TypeAdapter

    built = 0
    for name in module_names:
        module = sys.modules.get(name)
        if module is None or not name.startswith("chalicelib"):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, type) and issubclass(value, BaseModel):
                if value.__module__ == name and not value.__pydantic_complete__:
                    value.model_rebuild()
                    built += 1
            elif isinstance(value, TypeAdapter) and not value.pydantic_complete:
                value.rebuild()
                built += 1
    return built


@dataclass
class Primed:
    """What ``prime`` did (logged, and read by tests)."""

    function: str
    modules: int
    models: int
    clients: list[str]
    scopes: list[str]


def prime(function: str | None = None) -> Primed:
    """Prime ``function`` (by default the one ``_HANDLER`` names): see the module docstring."""
    from chalicelib.aws import clients
    from chalicelib.core.observability import logger
    from chalicelib.handlers.wiring import get_deps

    name = function or function_name()
    plan = PLANS[name]
    names = import_all(plan)
    models = build_models(names)
    clients.defer_credentials()
    deps = get_deps()  # settings and the compiled policy, validated
    made = []
    for service in plan.all_services:
        clients.client(service)
        made.append(service)
    layers = [scope for scope in plan.scopes if deps.store._layer(scope) is not None]
    logger()
    return Primed(name, len(names), models, made, layers)
