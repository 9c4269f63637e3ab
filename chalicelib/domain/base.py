"""Bases for the pydantic models at the edges."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import InitErrorDetails


class LooseModel(BaseModel):
    """A payload someone else writes (CloudWatch, Slack): read for the fields opsbot uses.

    Unknown fields are kept (so a model dumps what it was given) and never refused; fields with
    an alias may also be given by name.
    """

    # defer_build: a model's validator is built on its first use, not at import (cold start)
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)


def fields_error(model: str, message: str, *fields: str) -> ValidationError:
    """A ValidationError that puts ``message`` on each of ``fields`` (for a rule about several
    fields together, raised from a model validator, so each field it concerns is named)."""
    return ValidationError.from_exception_data(
        model,
        [
            InitErrorDetails(type="value_error", loc=(name,), input=None, ctx={"error": message})
            for name in fields
        ],
    )
