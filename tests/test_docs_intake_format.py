"""docs/intake-format.md stays true to the model: its example is a valid order and it
documents every code."""

from __future__ import annotations

import enum
import re

import pytest
from pydantic import BaseModel

from engine import model
from engine.canonical import decode_order
from engine.model import Action
from tests.conftest import TESTS

DOC = (TESTS.parent / "docs" / "intake-format.md").read_text(encoding="utf-8")
CODE_ENUMS = [obj for obj in vars(model).values()
              if isinstance(obj, type) and issubclass(obj, enum.StrEnum)
              and obj.__module__ == model.__name__]


def test_example_is_a_valid_order():
    """The JSON example in the document passes every check."""
    [example] = re.findall(r"```json\n(.*?)```", DOC, flags=re.DOTALL)
    order = decode_order(example)
    assert order.action is Action.ISSUE


@pytest.mark.parametrize("code_enum", CODE_ENUMS, ids=lambda e: e.__name__)
def test_every_code_is_documented(code_enum):
    """Each code the model accepts appears in the document, in backquotes."""
    missing = [c.value for c in code_enum if f"`{c.value}`" not in DOC]
    assert missing == []


MODELS = [obj for obj in vars(model).values()
          if isinstance(obj, type) and issubclass(obj, BaseModel)
          and obj.__module__ == model.__name__ and not obj.__name__.startswith("_")]


@pytest.mark.parametrize("part", MODELS, ids=lambda m: m.__name__)
def test_every_field_is_documented(part):
    """Each field of the order and of its parts has a row in the document's field tables."""
    missing = [f for f in part.model_fields if f"| `{f}` |" not in DOC]
    assert missing == []
