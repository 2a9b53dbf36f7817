"""What a mapping may write to: the canonical order's fields, found by walking the model.

The mapping compiler asks this module what a target key is (a nested model, a list of
models, a code from an enum, a date, ...) so a typo in a target, or a value the model can
never accept, is caught when the mapping is loaded rather than on the first order.
"""

from __future__ import annotations

import datetime as dt
import enum
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import AwareDatetime, BaseModel

__all__ = ["Target", "target_fields", "value_converter"]


@dataclass(frozen=True, slots=True)
class Target:
    """One field of a canonical model, reduced to what a mapping needs to know."""

    name: str
    #: "model", "models" (a list of models), "values" (a list of plain values), "enum",
    #: "date", "datetime", "int", "bool" or "str".
    kind: str
    required: bool
    #: The nested model for "model"/"models"; the enum for "enum" (or item enum of "values").
    model: type[BaseModel] | None = None
    enum: type[enum.Enum] | None = None
    #: For "values": the kind of one item.
    item_kind: str | None = None


def _unwrap(annotation: Any) -> Any:
    """Drop Annotated metadata and an Optional's None."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) == 1:
                annotation = args[0]
                continue
        return annotation


def _scalar_kind(annotation: Any) -> tuple[str, type[enum.Enum] | None]:
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "enum", annotation
    if annotation is bool:
        return "bool", None
    if annotation is int:
        return "int", None
    if annotation is AwareDatetime or annotation is dt.datetime:
        return "datetime", None
    if annotation is dt.date:
        return "date", None
    return "str", None


def _describe(name: str, annotation: Any, required: bool) -> Target:
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return Target(name, "model", required, model=annotation)
    if typing.get_origin(annotation) is tuple:
        item = _unwrap(typing.get_args(annotation)[0])
        if isinstance(item, type) and issubclass(item, BaseModel):
            return Target(name, "models", required, model=item)
        kind, enum_cls = _scalar_kind(item)
        return Target(name, "values", required, enum=enum_cls, item_kind=kind)
    kind, enum_cls = _scalar_kind(annotation)
    return Target(name, kind, required, enum=enum_cls)


@cache
def target_fields(model: type[BaseModel]) -> dict[str, Target]:
    """Every field of a canonical model by name, described for the mapping compiler."""
    return {
        name: _describe(name, info.annotation, info.is_required())
        for name, info in model.model_fields.items()
    }


def value_converter(target: Target) -> Callable[[str], Any]:
    """Turns a mapping's text (a constant, a default, a code) into the target's value."""
    kind = target.item_kind if target.kind == "values" else target.kind

    def convert(text: Any) -> Any:
        if not isinstance(text, str):
            raise ValueError("must be a single value")
        if target.enum is not None:
            allowed = [e.value for e in target.enum]
            if text not in allowed:
                raise ValueError(f"{text!r} is not a canonical {target.name} "
                                 f"(one of: {', '.join(allowed)})")
            return text
        if kind == "int":
            try:
                return int(text)
            except ValueError:
                raise ValueError(f"{text!r} is not a whole number") from None
        if kind == "bool":
            if text.lower() not in ("true", "false"):
                raise ValueError(f"{text!r} is not true or false")
            return text.lower() == "true"
        if kind == "date":
            try:
                return dt.date.fromisoformat(text).isoformat()
            except ValueError:
                raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from None
        if kind == "datetime":
            try:
                moment = dt.datetime.fromisoformat(text)
            except ValueError:
                raise ValueError(f"{text!r} is not an ISO 8601 date and time") from None
            if moment.tzinfo is None:
                raise ValueError(f"{text!r} needs a UTC offset")
            return moment.isoformat()
        if kind == "model":
            raise ValueError(f"{target.name} is made of parts; map them one by one")
        return text
    return convert

