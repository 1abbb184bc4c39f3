"""What every table of the config file shares: unknown keys refused, numbers finite and
numbers (not true/false), and a table given in part keeping the defaults it leaves out."""

from __future__ import annotations

from typing import Any, get_origin

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator, model_validator
from pydantic.fields import FieldInfo


def is_mapping(field: FieldInfo) -> bool:
    """A free-keyed table (e.g. agents.weights), as opposed to a section with fixed fields."""
    return get_origin(field.annotation) is dict


class Section(BaseModel):
    # inf and nan are refused everywhere: one `starting_capital = inf` must not reach sizing.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _partial_tables_keep_defaults(cls, data: Any) -> Any:
        # `[agents.weights] llm = 1.0` alone switches the LLM on; it must not switch the other
        # agents off by replacing the whole mapping.
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        for name, field in cls.model_fields.items():
            given = data.get(name)
            if isinstance(given, dict) and is_mapping(field) and field.default_factory:
                merged[name] = {**field.default_factory(), **given}
        return merged

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_are_not_booleans(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic reads true as 1: `max_open_positions = true` would mean one position.
        numeric = info.field_name and cls.model_fields[info.field_name].annotation in (int, float)
        if isinstance(value, bool) and numeric:
            raise ValueError(f"must be a number, not {str(value).lower()}")
        return value
