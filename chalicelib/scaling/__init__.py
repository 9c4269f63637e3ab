"""Scaling ECS services and Auto Scaling groups, always inside their bounds.

- ``bounds``: the bounds in force (policy tightened by the target's own) and what a step would do;
- ``procedure``: the one locked procedure every change goes through (lock, read, bound, apply,
  audit);
- ``force``: a forced new deployment, under the same lock, at most once when asked;
- ``manual``: a person setting a service's desired count.
"""

from __future__ import annotations

from chalicelib.scaling.bounds import (
    EffectiveBounds,
    Plan,
    asg_current,
    ecs_current,
    effective_service_bounds,
    plan_asg,
    plan_ecs,
    services_bounds,
    tighter,
)
from chalicelib.scaling.force import Mark, force_new_deployment
from chalicelib.scaling.manual import ManualScale, manual_scale
from chalicelib.scaling.procedure import (
    Admit,
    Decide,
    Recorded,
    scale_asg,
    scale_ecs_service,
)

__all__ = [
    "Admit",
    "Decide",
    "EffectiveBounds",
    "ManualScale",
    "Mark",
    "Plan",
    "Recorded",
    "asg_current",
    "ecs_current",
    "effective_service_bounds",
    "force_new_deployment",
    "manual_scale",
    "plan_asg",
    "plan_ecs",
    "scale_asg",
    "scale_ecs_service",
    "services_bounds",
    "tighter",
]
