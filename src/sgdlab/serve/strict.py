"""The base of every request body the API reads: strict about keys and about numbers.

pydantic's lax mode reads the JSON boolean ``true`` as 1 (and 1.0) where an integer or a float
is expected, so ``{"epochs": true}`` trained one epoch: a typo or a form bug went unnoticed. One
validator here, on every field of every model, refuses a boolean wherever the field's type has a
number but no ``bool`` (inside tuples and lists too: ``"start": [true, 1]``), and anything but
a boolean where the field is a flag (``{"nesterov": 1}``, ``"yes"``: lax mode read them as true)."""

from __future__ import annotations

import json
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError


def _kinds(annotation: Any) -> set[type]:
    """The scalar types named anywhere in ``annotation`` (``tuple[float, float] | None``: float)."""
    if annotation is bool or annotation is int or annotation is float:
        return {annotation}
    return set().union(*(_kinds(arg) for arg in typing.get_args(annotation)))


def _has_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    return isinstance(value, (list, tuple)) and any(_has_bool(v) for v in value)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")  # an unknown key is an error, never ignored

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        kinds = _kinds(cls.model_fields[info.field_name].annotation)
        if kinds == {bool} and value is not None and not isinstance(value, bool):
            # the mirror image: lax mode read {"nesterov": 1} or "yes" as true; the page sends
            # JSON booleans, a number or a string here is a typo or a form bug
            raise PydanticCustomError("not_a_boolean", "expected true or false, got {value}",
                                      {"value": json.dumps(value)})
        if not _has_bool(value):
            return value
        if bool in kinds or not kinds & {int, float}:
            return value
        wanted = "a number" if float in kinds else "an integer"
        got = "the boolean" if isinstance(value, bool) else "a boolean in"  # "[true, 1]"
        raise PydanticCustomError("bool_is_not_a_number", "expected {wanted}, got {got} {value}",
                                  {"wanted": wanted, "got": got, "value": json.dumps(value)})
