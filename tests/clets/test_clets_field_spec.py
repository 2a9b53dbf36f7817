"""Every CLETS field checked against its own definition in schemas/clets-layout.yaml.

The goldens prove the messages are stable; these tests prove they keep the layout. They
read the YAML themselves (plain ``yaml.safe_load``, not the engine's layout loader) and
split the message text themselves, then hold every line of every rendered message to the
declared definition of its field: maximum length, character set, pattern, code set (the
values of its table), date format or ``none_value``, characters to drop, verbatim source,
repeat count, section, and each message's required and allowed fields and key. No
expected value here comes from the renderer's output.

Negative cases go the other way: for each field, a message that is valid except for one
value that breaks one part of that field's definition is refused by the validator, with
the field named.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings

from engine.canonical import decode_order, order_from_dict, order_to_dict
from engine.clets import render_clets, validate_clets
from engine.errors import RenderError
from engine.formats import RenderContext
from engine.model import Action, Order
from tests.goldens import ORDER_FIXTURES, clets_action_variant
from tests.strategies import orders

LAYOUT_FILE = Path(__file__).parents[2] / "schemas" / "clets-layout.yaml"
SPEC: dict[str, Any] = yaml.safe_load(LAYOUT_FILE.read_text(encoding="utf-8"))
FIELDS: dict[str, dict[str, Any]] = SPEC["fields"]
FORMAT: dict[str, Any] = SPEC["format"]
GROUPS: dict[str, dict[str, Any]] = SPEC["groups"]
MESSAGES: dict[str, dict[str, Any]] = SPEC["messages"]
CONTEXT = RenderContext(mcn="MCN-Spec-0001", sent_at=dt.datetime(2026, 11, 23, 9, 0,
                                                                    tzinfo=dt.UTC))
LATER = RenderContext(mcn=CONTEXT.mcn, sent_at=CONTEXT.sent_at, doj_record_id="H000012345")


def charset(name: str) -> set[str]:
    return set(SPEC["charsets"][name])


def table_codes(name: str) -> set[str]:
    """A table's registry codes: each entry is a code or ``{code: ..., assumption: ...}``."""
    return {c["code"] if isinstance(c, dict) else str(c)
            for c in SPEC["tables"][name]["codes"].values()}


def group_of(mnemonic: str) -> str | None:
    return FIELDS[mnemonic].get("group")


def message_fields(action: str) -> list[str]:
    """The message's field mnemonics in line order, groups expanded."""
    group_fields = {g: [m for m, d in FIELDS.items() if d.get("group") == g] for g in GROUPS}
    out: list[str] = []
    for item in MESSAGES[action]["fields"]:
        out += group_fields.get(item, [item])
    return out


@dataclass(frozen=True)
class Line:
    mnemonic: str
    value: str
    section: str  # "base" or "supplemental"


def split_message(body: bytes) -> tuple[str, list[Line]]:
    """The message key and its field lines, read with the layout's own separators."""
    text = body.decode("ascii")
    sep, vsep = FORMAT["field_separator"], FORMAT["value_separator"]
    lines = text.removesuffix(sep).split(sep)
    key_mnemonic, _, key = lines[0].partition(vsep)
    assert key_mnemonic == FORMAT["key_field"]
    section, out = "base", []
    for line in lines[1:]:
        if line == FORMAT["supplemental_marker"]:
            section = "supplemental"
            continue
        mnemonic, found, value = line.partition(vsep)
        assert found, f"a line without {vsep!r}"
        out.append(Line(mnemonic, value, section))
    return key, out


def breaks(mnemonic: str, value: str) -> list[str]:
    """Which parts of the field's declared definition ``value`` breaks."""
    definition = FIELDS[mnemonic]
    broken = []
    if not 1 <= len(value) <= definition["max_length"]:
        broken.append("length")
    if not set(value) <= charset(definition["charset"]):
        broken.append("charset")
    if set(value) & set(definition.get("drop_chars", "")):
        broken.append("drop_chars")
    if definition.get("none_value") is not None and value == definition["none_value"]:
        return broken
    if "pattern" in definition and re.fullmatch(definition["pattern"], value) is None:
        broken.append("pattern")
    if definition["kind"] == "code" and value not in table_codes(definition["table"]):
        broken.append("code")
    if definition["kind"] == "date":
        try:
            parsed = dt.datetime.strptime(value, FORMAT["date_format"])
            if parsed.strftime(FORMAT["date_format"]) != value:
                broken.append("date")
        except ValueError:
            broken.append("date")
    if definition["kind"] in ("number", "height") and not value.isdigit():
        broken.append("number")
    if mnemonic == FORMAT["key_field"] and value not in {m["key"] for m in MESSAGES.values()}:
        broken.append("code")
    return broken


def verbatim_source(mnemonic: str, order: Order, ctx: RenderContext) -> str | None:
    """What a verbatim field must carry exactly, by its declared source."""
    return {"court.ori": order.court.ori, "context.mcn": ctx.mcn,
            "context.doj_record_id": ctx.doj_record_id,
            "order.order_id": order.order_id}.get(FIELDS[mnemonic]["source"])


def message_problems(order: Order, ctx: RenderContext, body: bytes) -> list[str]:
    """Every way the message breaks the layout's declared definitions."""
    action = order.action.value
    key, lines = split_message(body)
    problems = []
    if key != MESSAGES[action]["key"]:
        problems.append(f"key {key} is not {MESSAGES[action]['key']}")
    allowed = message_fields(action)
    base = [line.mnemonic for line in lines if line.section == "base"]
    problems += [f"{m}: required, missing" for m in MESSAGES[action]["required"]
                 if m not in base]
    problems += [f"{m}: not a field of {action}" for m in {line.mnemonic for line in lines}
                 if m not in allowed]
    order_in_message = [allowed.index(m) for m in base if m in allowed]
    if order_in_message != sorted(order_in_message):
        problems.append("base fields out of the declared line order")
    for mnemonic in {line.mnemonic for line in lines} & set(allowed):
        definition = FIELDS[mnemonic]
        mine = [line for line in lines if line.mnemonic == mnemonic]
        in_base = sum(line.section == "base" for line in mine)
        group = group_of(mnemonic)
        if group is not None:
            if in_base > 1 or len(mine) > GROUPS[group]["max"]:
                problems.append(f"{mnemonic}: more than its group allows")
        else:
            section = definition.get("section", "base")
            if any(line.section != section for line in mine):
                problems.append(f"{mnemonic}: outside the {section} section")
            if len(mine) > definition.get("repeat", 1):
                problems.append(f"{mnemonic}: repeated more than {definition.get('repeat', 1)}")
        for line in mine:
            problems += [f"{mnemonic}: breaks {part}" for part in breaks(mnemonic, line.value)]
        expected = verbatim_source(mnemonic, order, ctx)
        if definition["kind"] == "verbatim" and expected is not None:
            problems += [f"{mnemonic}: not its source verbatim" for line in mine
                         if line.value != expected]
    return problems


def _with_ssn(order: Order) -> Order:
    """A fixture order whose restrained person also has a social security number."""
    data = order_to_dict(order)
    person = data["restrained_persons"][0]
    person["identifiers"] = [*person.get("identifiers", []),
                             {"kind": "ssn", "value": "123-45-6789"}]
    return order_from_dict(data)


def _inputs() -> list[tuple[str, Order, RenderContext]]:
    cases = []
    for path in ORDER_FIXTURES:
        order = decode_order(path.read_bytes())
        cases.append((path.stem, order, CONTEXT if order.action is Action.ISSUE else LATER))
    for action in Action:
        if action is not Action.ISSUE:
            cases.append((f"dv_tro_issue.{action.value}", clets_action_variant(action), LATER))
    base = decode_order(ORDER_FIXTURES[0].read_bytes())
    cases.append(("with_ssn", _with_ssn(base),
                  CONTEXT if base.action is Action.ISSUE else LATER))
    return cases


INPUTS = _inputs()
RENDERED = [(name, order, ctx, render_clets(order, ctx).body) for name, order, ctx in INPUTS]


@pytest.mark.parametrize("mnemonic", sorted(FIELDS))
def test_every_rendered_value_keeps_its_field_definition(mnemonic: str) -> None:
    """Each occurrence of the field, in every message rendered from the fixtures, fits its
    declared length, character set, pattern, code set, date format and drop characters."""
    values = [(name, line.value) for name, _, _, body in RENDERED
              for line in split_message(body)[1] if line.mnemonic == mnemonic]
    if mnemonic == FORMAT["key_field"]:
        values = [(name, split_message(body)[0]) for name, _, _, body in RENDERED]
    assert values, f"no rendered message carries {mnemonic}: its definition goes unchecked"
    bad = [(name, parts) for name, value in values if (parts := breaks(mnemonic, value))]
    assert bad == []


@pytest.mark.parametrize(("name", "order", "ctx", "body"), RENDERED,
                         ids=[r[0] for r in RENDERED])
def test_every_message_keeps_its_declared_message_definition(
        name: str, order: Order, ctx: RenderContext, body: bytes) -> None:
    """Key, required and allowed fields, line order, sections, repeats, group limits and
    verbatim sources hold as declared for the message's action."""
    assert message_problems(order, ctx, body) == []


@settings(max_examples=60)
@given(order=orders())
def test_generated_orders_render_to_messages_that_keep_the_layout(order: Order) -> None:
    """For any valid order, the renderer either refuses it with a reason (many generated
    names and terms do not fit CLETS) or makes a message that keeps every declared field
    and message definition: never a message that breaks the layout."""
    ctx = CONTEXT if order.action is Action.ISSUE else LATER
    try:
        body = render_clets(order, ctx).body
    except RenderError:
        return
    assert message_problems(order, ctx, body) == []


# -- negative cases: the validator refuses what breaks a definition ----------------------

def _too_long(definition: dict[str, Any]) -> str:
    fill = sorted(charset(definition["charset"]) - set(definition.get("drop_chars", "")))
    return (fill[0] * (definition["max_length"] + 1))


def _bad_character(definition: dict[str, Any]) -> str:
    outside = next(c for c in "a!~é*" if c not in charset(definition["charset"]))
    return outside


def _bad_pattern(definition: dict[str, Any]) -> str | None:
    """A value of allowed characters and length that does not fit the pattern."""
    if "pattern" not in definition:
        return None
    allowed = sorted(charset(definition["charset"]))
    for length in range(1, definition["max_length"] + 1):
        for c in allowed:
            if re.fullmatch(definition["pattern"], c * length) is None:
                return c * length
    return None


def _bad_code(definition: dict[str, Any]) -> str | None:
    if definition["kind"] != "code":
        return None
    codes = table_codes(definition["table"])
    allowed = sorted(charset(definition["charset"]))
    width = max(len(c) for c in codes)
    return next(c * width for c in allowed if c * width not in codes)


def _bad_date(definition: dict[str, Any]) -> str | None:
    return "20261341" if definition["kind"] == "date" else None


def _violations(mnemonic: str) -> list[tuple[str, str]]:
    definition = FIELDS[mnemonic]
    found = [("length", _too_long(definition)), ("charset", _bad_character(definition)),
             ("pattern", _bad_pattern(definition)), ("code", _bad_code(definition)),
             ("date", _bad_date(definition))]
    return [(part, value) for part, value in found if value is not None]


VIOLATIONS = [(m, part, value) for m in sorted(FIELDS) for part, value in _violations(m)]


def _carrier(mnemonic: str) -> tuple[Order, bytes]:
    """A rendered message that carries ``mnemonic`` in its base section."""
    if mnemonic == FORMAT["key_field"]:
        return RENDERED[0][1], RENDERED[0][3]
    for _, order, _, body in RENDERED:
        if any(line.mnemonic == mnemonic and line.section == "base"
               for line in split_message(body)[1]):
            return order, body
    for _, order, _, body in RENDERED:
        if any(line.mnemonic == mnemonic for line in split_message(body)[1]):
            return order, body
    raise AssertionError(f"no message carries {mnemonic}")


@pytest.mark.parametrize(("mnemonic", "part", "value"), VIOLATIONS,
                         ids=[f"{m}-{p}" for m, p, _ in VIOLATIONS])
def test_the_validator_refuses_a_value_that_breaks_the_definition(
        mnemonic: str, part: str, value: str) -> None:
    """A valid message with one value of this field made to break one part of its
    definition is refused, and the refusal names the field."""
    assert part in breaks(mnemonic, value)  # the case breaks what it says it breaks
    order, body = _carrier(mnemonic)
    prefix = f"{mnemonic}{FORMAT['value_separator']}".encode()
    lines = body.split(FORMAT["field_separator"].encode())
    index = next(i for i, line in enumerate(lines) if line.startswith(prefix))
    lines[index] = prefix + value.encode("utf-8")
    errors = validate_clets(FORMAT["field_separator"].encode().join(lines), order.action)
    assert errors, f"{mnemonic}={value!r} passed the validator"
    assert any(e.path.split("[")[0].removeprefix("SUP.") == mnemonic
               or value.isascii() is False for e in errors), errors


@pytest.mark.parametrize("action", sorted(MESSAGES))
def test_the_validator_refuses_a_message_missing_a_required_field(action: str) -> None:
    """Each required field of each message: the message without it is refused, naming it."""
    order, ctx = next((o, c) for _, o, c, _ in RENDERED if o.action.value == action)
    body = render_clets(order, ctx).body
    sep, vsep = FORMAT["field_separator"].encode(), FORMAT["value_separator"].encode()
    for mnemonic in MESSAGES[action]["required"]:
        lines = body.split(sep)
        assert any(line.startswith(mnemonic.encode() + vsep) for line in lines)
        without = sep.join(line for line in lines if not line.startswith(mnemonic.encode()
                                                                          + vsep))
        paths = [e.path for e in validate_clets(without, Action(action))]
        assert mnemonic in paths, (mnemonic, paths)


@pytest.mark.parametrize("action", sorted(MESSAGES))
def test_the_validator_refuses_a_field_the_message_does_not_declare(action: str) -> None:
    """A field the layout knows but this message does not list is refused."""
    order, ctx = next((o, c) for _, o, c, _ in RENDERED if o.action.value == action)
    foreign = next(m for m in sorted(FIELDS) if m not in message_fields(action)
                   and FIELDS[m].get("section", "base") == "base" and not group_of(m))
    sep = FORMAT["field_separator"].encode()
    body = render_clets(order, ctx).body.rstrip(sep)
    key_line, *rest = body.split(sep)
    extra = f"{foreign}{FORMAT['value_separator']}X".encode()
    errors = validate_clets(sep.join([key_line, extra, *rest]), Action(action))
    assert any(e.path == foreign and e.reason.startswith("not allowed") for e in errors)
