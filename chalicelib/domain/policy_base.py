"""What every model of the ops policy shares: a strict, frozen base, the pattern of the names
it gives, and the error that reports each problem at its own dotted path."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"  # environment, service, group and rule names


def problems_error(model: str, problems: list[tuple[str, str]]) -> ValidationError:
    """A ValidationError with one error per ``(dotted path, message)``: raised from a model
    validator, each problem is reported at its own path (below the model's)."""
    return ValidationError.from_exception_data(
        model,
        [
            InitErrorDetails(
                type=PydanticCustomError("policy_reference", "{problem}", {"problem": message}),
                loc=(path,),
                input=None,
            )
            for path, message in problems
        ],
    )


class PolicyModel(BaseModel):
    """A part of the ops policy: unknown fields refused, frozen once validated."""

    # defer_build: built on first validation; the nested models are built once, inside Policy
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
