"""How each registered action runs: one executor per action class of ``domain.actions``.

The registry describes actions (names, parameters, permissions, targets); the executors here
plan and apply them with the scaling capability. Every registered action has an executor (a
test holds that), so a policy that loads can always be run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

from chalicelib import scaling
from chalicelib.domain.actions import (
    Action,
    ForceNewDeployment,
    NotifyOnly,
    Outcome,
    ScaleAsg,
    ScaleEcsService,
)
from chalicelib.records.status import ActionResult

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.domain.policy import Environment

A = TypeVar("A", bound=Action)
OnChange = Callable[[Outcome], None]


class Run(NamedTuple):
    """Who runs an action and why, and the hooks it calls (see ``apply``)."""

    actor: str
    why: str
    on_change: OnChange | None = None
    decide: scaling.Decide | None = None
    admit: scaling.Admit | None = None
    mark: scaling.Mark | None = None
    recorded: scaling.Recorded | None = None


class Executor(Generic[A]):
    """Plans and applies one kind of action."""

    #: whether ``apply`` reads a count and calls ``decide`` with its plan (scaling actions)
    scales = False

    def plan(self, deps: Deps, env: Environment, action: A) -> scaling.Plan | None:
        """For scaling actions: what it would do now."""
        return None

    def apply(self, deps: Deps, env: Environment, action: A, run: Run) -> Outcome:
        """Do it; ``run.on_change`` is told as soon as the AWS change is made. Scaling actions
        read the count once, after trying the target's lock, and ``run.decide`` sees that plan
        before anything changes (the others never call it); ``run.admit`` is asked last, under
        the lock."""
        raise NotImplementedError


class _ScaleEcsService(Executor[ScaleEcsService]):
    scales = True

    def plan(self, deps: Deps, env: Environment, action: ScaleEcsService) -> scaling.Plan:
        return scaling.plan_ecs(deps, env, action.params.service, action.step)

    def apply(self, deps: Deps, env: Environment, action: ScaleEcsService, run: Run) -> Outcome:
        return scaling.scale_ecs_service(
            deps, env, action.params.service, step=action.step, actor=run.actor, why=run.why,
            on_change=run.on_change, decide=run.decide, admit=run.admit, recorded=run.recorded,
        )  # fmt: skip


class _ScaleAsg(Executor[ScaleAsg]):
    scales = True

    def plan(self, deps: Deps, env: Environment, action: ScaleAsg) -> scaling.Plan:
        return scaling.plan_asg(deps, env, action.params.group, action.step)

    def apply(self, deps: Deps, env: Environment, action: ScaleAsg, run: Run) -> Outcome:
        return scaling.scale_asg(
            deps, env, action.params.group, step=action.step, actor=run.actor, why=run.why,
            on_change=run.on_change, decide=run.decide, admit=run.admit, recorded=run.recorded,
        )  # fmt: skip


class _ForceNewDeployment(Executor[ForceNewDeployment]):
    def apply(self, deps: Deps, env: Environment, action: ForceNewDeployment, run: Run) -> Outcome:
        # it never plans, so never calls ``decide``; ``mark`` keeps it from forcing twice
        return scaling.force_new_deployment(
            deps, env, action.params.service, actor=run.actor, why=run.why,
            on_change=run.on_change, admit=run.admit, mark=run.mark,
        )  # fmt: skip


class _NotifyOnly(Executor[NotifyOnly]):
    def apply(self, deps: Deps, env: Environment, action: NotifyOnly, run: Run) -> Outcome:
        note = action.params.note
        return Outcome(ActionResult.NOTIFIED, note or "no action configured: notification only")


EXECUTORS: dict[type[Action], Executor[Any]] = {
    ScaleEcsService: _ScaleEcsService(),
    ScaleAsg: _ScaleAsg(),
    ForceNewDeployment: _ForceNewDeployment(),
    NotifyOnly: _NotifyOnly(),
}


def executor(action: Action) -> Executor[Any]:
    """The executor of an action; LookupError for an action class without one."""
    try:
        return EXECUTORS[type(action)]
    except KeyError:
        raise LookupError(f"no executor for action {action.name!r}") from None


def plan(deps: Deps, env: Environment, action: Action) -> scaling.Plan | None:
    """What a scaling action would do now (None for the others)."""
    return executor(action).plan(deps, env, action)


def scales(action: Action) -> bool:
    """Whether the action reads a count and plans a step (and so calls ``decide``)."""
    return executor(action).scales


def apply(
    deps: Deps,
    env: Environment,
    action: Action,
    *,
    actor: str,
    why: str,
    on_change: OnChange | None = None,
    decide: scaling.Decide | None = None,
    admit: scaling.Admit | None = None,
    mark: scaling.Mark | None = None,
    recorded: scaling.Recorded | None = None,
) -> Outcome:
    """Run the action; ``on_change`` is told as soon as it has changed something in AWS;
    a scaling action asks ``decide`` first, with the plan made from its one read; ``admit``
    is asked under the target's lock just before the change; a forced new deployment records
    ``mark`` before it forces (``scaling.force``); a scaling action sets the count ``recorded``
    by an earlier attempt instead of stepping again (``scaling.procedure``)."""
    run = Run(actor, why, on_change, decide, admit, mark, recorded)
    return executor(action).apply(deps, env, action, run)
