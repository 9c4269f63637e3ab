"""What capability code receives from the outside world (built by ``handlers.wiring``).

Capability modules never build clients or read the clock themselves; they receive a ``Deps``.
Tests build their own ``Deps`` pointed at the embedded AWS or a botocore Stubber.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload

from chalicelib.aws.queue import WorkQueue
from chalicelib.core.clock import utcnow

if TYPE_CHECKING:
    from mypy_boto3_acm import ACMClient
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_budgets import BudgetsClient
    from mypy_boto3_ce import CostExplorerClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_route53 import Route53Client

    from chalicelib.aws.notifier import Notifier
    from chalicelib.core.settings import Settings
    from chalicelib.domain.policy import Environment, Policy
    from chalicelib.store import Store


class CloudTrailClient(Protocol):
    """The CloudTrail calls opsbot makes (``LookupEvents``; no mypy_boto3 stubs for it)."""

    def lookup_events(self, **kwargs: Any) -> dict[str, Any]: ...


class StsClient(Protocol):
    """The STS call the change feed makes (``GetCallerIdentity``: who opsbot's clients are)."""

    def get_caller_identity(self) -> dict[str, Any]: ...


class ClientFactory(Protocol):
    """``deps.aws(service, env)``: a typed boto3 client in an environment's account and region."""

    @overload
    def __call__(self, service: Literal["ecs"], env: Environment, /) -> ECSClient: ...
    @overload
    def __call__(self, service: Literal["ecr"], env: Environment, /) -> ECRClient: ...
    @overload
    def __call__(
        self, service: Literal["application-autoscaling"], env: Environment, /
    ) -> ApplicationAutoScalingClient: ...
    @overload
    def __call__(
        self, service: Literal["autoscaling"], env: Environment, /
    ) -> AutoScalingClient: ...
    @overload
    def __call__(self, service: Literal["cloudwatch"], env: Environment, /) -> CloudWatchClient: ...
    @overload
    def __call__(self, service: Literal["acm"], env: Environment, /) -> ACMClient: ...
    @overload
    def __call__(self, service: Literal["route53"], env: Environment, /) -> Route53Client: ...
    @overload
    def __call__(
        self, service: Literal["elbv2"], env: Environment, /
    ) -> ElasticLoadBalancingv2Client: ...
    @overload
    def __call__(self, service: Literal["budgets"], env: Environment, /) -> BudgetsClient: ...
    @overload
    def __call__(self, service: Literal["ce"], env: Environment, /) -> CostExplorerClient: ...
    @overload
    def __call__(self, service: Literal["cloudtrail"], env: Environment, /) -> CloudTrailClient: ...
    @overload
    def __call__(self, service: Literal["sts"], env: Environment, /) -> StsClient: ...
    def __call__(self, service: str, env: Environment, /) -> Any: ...


@dataclass
class Deps:
    """What capability code needs from the outside world."""

    settings: Settings
    policy: Policy
    store: Store
    queue: WorkQueue
    notifier: Notifier
    aws: ClientFactory
    clock: Callable[[], datetime] = utcnow
    # (actor, deployment id) -> a client factory whose assumed-role sessions carry them
    scoped_aws: Callable[[str, str | None], ClientFactory] | None = None
    # facts that never change once read (a task definition revision's images), kept for the
    # life of these deps (the process, in Lambda); shared by ``acting_for``'s copies
    memo: dict[Any, Any] = field(default_factory=dict)

    def acting_for(self, actor: str, deployment_id: str | None = None) -> Deps:
        """These deps, with environment clients whose AssumeRole session names ``actor`` and
        the deployment (what CloudTrail shows in the member account)."""
        if self.scoped_aws is None:
            return self
        return replace(self, aws=self.scoped_aws(actor, deployment_id))
