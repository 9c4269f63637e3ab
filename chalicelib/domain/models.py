"""Shared pydantic bases for models of what others send us."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Loose(BaseModel):
    """A model of someone else's payload: unknown fields are kept, names or aliases accepted."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
