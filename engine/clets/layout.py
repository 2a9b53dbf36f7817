"""The CLETS message layout: `schemas/clets-layout.yaml` loaded once and checked as data.

The renderer and the validator both read this one object, so a state changes its field
names, lengths, character sets, codes and message keys in YAML, never in code. Loading
checks the whole file and names the key path of the first problem (``messages.issue.
fields[3]: unknown field 'XYZ'``), so a bad layout stops the engine at start, not mid-queue.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine import model, resources
from engine.clets.rules import FieldRules
from engine.clets.sources import SOURCES
from engine.errors import EngineError
from engine.model import Action

__all__ = [
    "DEFAULT_LAYOUT_PATH",
    "KINDS",
    "CodeTable",
    "FieldSpec",
    "GroupSpec",
    "Layout",
    "LayoutError",
    "MessageSpec",
    "default_layout",
    "load_layout",
    "parse_layout",
]

#: The layout shipped with the engine.
DEFAULT_LAYOUT_PATH = resources.path("schemas/clets-layout.yaml")

#: How a canonical value becomes field text (see engine.clets.encode).
KINDS = frozenset({"name", "text", "code", "date", "height", "number", "verbatim"})
_OVERFLOW = frozenset({"reject", "truncate"})
_BAD_CHAR = frozenset({"reject", "drop"})
_SECTIONS = frozenset({"base", "supplemental"})
_MNEMONIC = re.compile(r"^[A-Z][A-Z0-9]{1,3}$")


class LayoutError(EngineError):
    """A layout file that cannot drive rendering; the message names the file and key path."""


@dataclass(frozen=True, slots=True)
class CodeTable:
    name: str
    #: canonical word (enum value) -> registry code
    codes: Mapping[str, str]
    #: canonical word -> assumption note, for the entries that carry one
    assumptions: Mapping[str, str]
    enum_name: str | None = None
    #: (file, simpleType) of the NCIC code list the codes are checked against in tests
    reference: tuple[str, str] | None = None
    #: every registry code of the table (worked out once)
    code_set: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "code_set", frozenset(self.codes.values()))


@dataclass(frozen=True, slots=True)
class FieldSpec:
    mnemonic: str
    meaning: str
    kind: str
    source: str
    max_length: int
    charset_name: str
    charset: frozenset[str]
    table: CodeTable | None = None
    pattern: re.Pattern[str] | None = None
    repeat: int = 1
    section: str = "base"
    group: str | None = None
    on_overflow: str = "reject"
    on_bad_char: str = "reject"
    drop_chars: str = ""
    none_value: str | None = None
    assumption: str | None = None


@dataclass(frozen=True, slots=True)
class GroupSpec:
    name: str
    source: str
    max: int
    fields: tuple[str, ...]
    assumption: str | None = None


@dataclass(frozen=True, slots=True)
class MessageSpec:
    action: Action
    key: str
    meaning: str
    #: field mnemonics and group names, in line order
    items: tuple[str, ...]
    required: frozenset[str]
    assumption: str | None = None
    #: groups of fields of which at least one must be present, each with the rule's words
    #: (NCIC POF entry: a date of birth or a numeric identifier)
    required_one_of: tuple[tuple[tuple[str, ...], str], ...] = ()

    def mnemonics(self, layout: Layout) -> tuple[str, ...]:
        """Every field mnemonic this message may carry, groups expanded, in line order."""
        out: list[str] = []
        for item in self.items:
            out.extend(layout.groups[item].fields if item in layout.groups else (item,))
        return tuple(out)


@dataclass(frozen=True, slots=True)
class Layout:
    path: str
    version: str
    field_separator: str
    value_separator: str
    key_field: str
    supplemental_marker: str
    date_format: str
    date_format_text: str
    max_restrained_persons: int
    fields: Mapping[str, FieldSpec]
    groups: Mapping[str, GroupSpec]
    messages: Mapping[Action, MessageSpec]
    tables: Mapping[str, CodeTable]
    format_assumption: str | None = None
    #: each field's rules compiled once (see `engine.clets.rules`), by mnemonic
    rules: Mapping[str, FieldRules[FieldSpec]] = field(init=False, repr=False, compare=False)
    #: what a message of each key may and must carry: key -> (actions using it, allowed
    #: mnemonics, mnemonics every one of those actions requires); the same for each action
    #: alone under ``(key, action)``
    message_rules: Mapping[str | tuple[str, Action],
                           tuple[tuple[Action, ...], frozenset[str], frozenset[str]]] = field(
        init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", {
            m: FieldRules(spec, self.value_separator, self.date_format, self.date_format_text)
            for m, spec in self.fields.items()})
        plans: dict[str | tuple[str, Action],
                    tuple[tuple[Action, ...], frozenset[str], frozenset[str]]] = {}
        for key in dict.fromkeys(m.key for m in self.messages.values()):
            plans[key] = self._message_rules(self.actions_for_key(key))
        for action, message in self.messages.items():
            plans[(message.key, action)] = self._message_rules((action,))
        object.__setattr__(self, "message_rules", plans)

    def _message_rules(self, actions: tuple[Action, ...]
                       ) -> tuple[tuple[Action, ...], frozenset[str], frozenset[str]]:
        specs = [self.messages[a] for a in actions]
        return (actions, frozenset().union(*(m.mnemonics(self) for m in specs)),
                frozenset.intersection(*(m.required for m in specs)))

    def actions_for_key(self, key: str) -> tuple[Action, ...]:
        return tuple(a for a, m in self.messages.items() if m.key == key)

    def assumptions(self) -> list[tuple[str, str]]:
        """Every (where, note) assumption in the layout, for the contract's to-confirm list."""
        notes: list[tuple[str, str]] = []
        if self.format_assumption:
            notes.append(("format", self.format_assumption))
        notes += [(f"fields.{f.mnemonic}", f.assumption) for f in self.fields.values()
                  if f.assumption]
        notes += [(f"groups.{g.name}", g.assumption) for g in self.groups.values()
                  if g.assumption]
        notes += [(f"messages.{m.action.value}", m.assumption) for m in self.messages.values()
                  if m.assumption]
        for table in self.tables.values():
            notes += [(f"tables.{table.name}.{word}", note)
                      for word, note in table.assumptions.items()]
        return notes


class _Reader:
    """Typed access to the raw YAML with errors that name the key path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> LayoutError:
        return LayoutError(f"{self.source}: {where}: {problem}")

    def mapping(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, "must be a mapping")
        return {str(k): v for k, v in value.items()}

    def string(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(where, "must be a non-empty string")
        return value

    def integer(self, value: Any, where: str, minimum: int = 1) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(where, f"must be an integer >= {minimum}")
        return value

    def choice(self, value: Any, where: str, allowed: frozenset[str]) -> str:
        if value not in allowed:
            raise self.fail(where, f"must be one of {', '.join(sorted(allowed))}")
        return str(value)

    def names(self, value: Any, where: str) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(where, "must be a list of names")
        return list(value)


def _enum_by_name(name: str) -> type[enum.Enum] | None:
    candidate = getattr(model, name, None)
    return candidate if isinstance(candidate, type) and issubclass(candidate, enum.Enum) else None


def _parse_tables(r: _Reader, raw: Any) -> dict[str, CodeTable]:
    tables: dict[str, CodeTable] = {}
    for name, body in r.mapping(raw, "tables").items():
        where = f"tables.{name}"
        body = r.mapping(body, where)
        codes: dict[str, str] = {}
        notes: dict[str, str] = {}
        for word, entry in r.mapping(body.get("codes"), f"{where}.codes").items():
            if isinstance(entry, dict):
                entry = r.mapping(entry, f"{where}.codes.{word}")
                codes[word] = r.string(entry.get("code"), f"{where}.codes.{word}.code")
                if "assumption" in entry:
                    notes[word] = r.string(entry["assumption"], f"{where}.codes.{word}.assumption")
            else:
                codes[word] = r.string(entry, f"{where}.codes.{word}")
        enum_name = body.get("enum")
        if enum_name is not None:
            enum_type = _enum_by_name(r.string(enum_name, f"{where}.enum"))
            if enum_type is None:
                raise r.fail(f"{where}.enum", f"no enum {enum_name!r} in engine.model")
            words = {str(m.value) for m in enum_type}
            missing = sorted(words - codes.keys())
            extra = sorted(codes.keys() - words)
            if missing:
                raise r.fail(f"{where}.codes", f"no code for {', '.join(missing)}")
            if extra:
                raise r.fail(f"{where}.codes", f"not {enum_name} words: {', '.join(extra)}")
        reference = None
        if "reference" in body:
            ref = r.mapping(body["reference"], f"{where}.reference")
            reference = (r.string(ref.get("file"), f"{where}.reference.file"),
                         r.string(ref.get("type"), f"{where}.reference.type"))
        tables[name] = CodeTable(name=name, codes=codes, assumptions=notes,
                                 enum_name=enum_name, reference=reference)
    return tables


def _parse_field(r: _Reader, mnemonic: str, raw: Any, charsets: dict[str, frozenset[str]],
                 tables: dict[str, CodeTable]) -> FieldSpec:
    where = f"fields.{mnemonic}"
    if not _MNEMONIC.match(mnemonic):
        raise r.fail(where, "a mnemonic is 2-4 upper-case letters or digits, letter first")
    body = r.mapping(raw, where)
    known = {"meaning", "kind", "source", "max_length", "charset", "table", "pattern", "repeat",
             "section", "group", "on_overflow", "on_bad_char", "drop_chars", "none_value",
             "assumption"}
    unknown = sorted(body.keys() - known)
    if unknown:
        raise r.fail(where, f"unknown key(s) {', '.join(unknown)}")
    kind = r.choice(body.get("kind"), f"{where}.kind", KINDS)
    source = r.string(body.get("source"), f"{where}.source")
    if source not in SOURCES:
        raise r.fail(f"{where}.source", f"unknown source {source!r}")
    charset_name = r.string(body.get("charset"), f"{where}.charset")
    if charset_name not in charsets:
        raise r.fail(f"{where}.charset", f"unknown charset {charset_name!r}")
    table = None
    if kind == "code":
        table_name = r.string(body.get("table"), f"{where}.table")
        if table_name not in tables:
            raise r.fail(f"{where}.table", f"unknown table {table_name!r}")
        table = tables[table_name]
        max_length = body.get("max_length")
        bad = sorted(c for c in table.code_set if not set(c) <= charsets[charset_name]
                     or (isinstance(max_length, int) and len(c) > max_length))
        if bad:
            raise r.fail(f"{where}.table", f"codes {bad} leave charset {charset_name!r} "
                                           "or exceed max_length")
    elif "table" in body:
        raise r.fail(f"{where}.table", "only a 'code' field has a table")
    pattern = None
    if "pattern" in body:
        try:
            pattern = re.compile(r.string(body["pattern"], f"{where}.pattern"))
        except re.error as exc:
            raise r.fail(f"{where}.pattern", f"not a regular expression ({exc})") from exc
    none_value = body.get("none_value")
    if none_value is not None:
        none_value = r.string(none_value, f"{where}.none_value")
        if not set(none_value) <= charsets[charset_name]:
            raise r.fail(f"{where}.none_value", f"leaves charset {charset_name!r}")
    drop_chars = body.get("drop_chars", "")
    if not isinstance(drop_chars, str):
        raise r.fail(f"{where}.drop_chars", "must be a string")
    return FieldSpec(
        mnemonic=mnemonic,
        meaning=r.string(body.get("meaning"), f"{where}.meaning"),
        kind=kind,
        source=source,
        max_length=r.integer(body.get("max_length"), f"{where}.max_length"),
        charset_name=charset_name,
        charset=charsets[charset_name],
        table=table,
        pattern=pattern,
        repeat=r.integer(body.get("repeat", 1), f"{where}.repeat"),
        section=r.choice(body.get("section", "base"), f"{where}.section", _SECTIONS),
        group=body.get("group"),
        on_overflow=r.choice(body.get("on_overflow", "reject"), f"{where}.on_overflow",
                             _OVERFLOW),
        on_bad_char=r.choice(body.get("on_bad_char", "reject"), f"{where}.on_bad_char",
                             _BAD_CHAR),
        drop_chars=drop_chars,
        none_value=none_value,
        assumption=body.get("assumption"),
    )


def parse_layout(raw: Any, source: str = "<layout>") -> Layout:
    """Check a loaded YAML document and build the `Layout`; `LayoutError` names the key."""
    r = _Reader(source)
    doc = r.mapping(raw, "(document)")
    fmt = r.mapping(doc.get("format"), "format")
    field_sep = r.string(fmt.get("field_separator"), "format.field_separator")
    value_sep = r.string(fmt.get("value_separator"), "format.value_separator")
    date_format = r.string(fmt.get("date_format"), "format.date_format")

    charsets: dict[str, frozenset[str]] = {}
    for name, chars in r.mapping(doc.get("charsets"), "charsets").items():
        chars = r.string(chars, f"charsets.{name}")
        if field_sep in chars:
            raise r.fail(f"charsets.{name}", "contains the field separator")
        if not chars.isascii():
            raise r.fail(f"charsets.{name}", "must be ASCII")
        charsets[name] = frozenset(chars)

    tables = _parse_tables(r, doc.get("tables"))
    fields = {m: _parse_field(r, m, body, charsets, tables)
              for m, body in r.mapping(doc.get("fields"), "fields").items()}

    groups: dict[str, GroupSpec] = {}
    for name, body in r.mapping(doc.get("groups", {}), "groups").items():
        where = f"groups.{name}"
        body = r.mapping(body, where)
        gsource = r.string(body.get("source"), f"{where}.source")
        if gsource not in SOURCES:
            raise r.fail(f"{where}.source", f"unknown source {gsource!r}")
        members = tuple(m for m, f in fields.items() if f.group == name)
        if not members:
            raise r.fail(where, "no field names this group")
        groups[name] = GroupSpec(name=name, source=gsource,
                                 max=r.integer(body.get("max"), f"{where}.max"),
                                 fields=members, assumption=body.get("assumption"))
    for f in fields.values():
        if f.group is not None and f.group not in groups:
            raise r.fail(f"fields.{f.mnemonic}.group", f"unknown group {f.group!r}")

    key_field = r.string(fmt.get("key_field"), "format.key_field")
    if key_field not in fields:
        raise r.fail("format.key_field", f"no field {key_field!r}")

    messages: dict[Action, MessageSpec] = {}
    raw_messages = r.mapping(doc.get("messages"), "messages")
    for action in Action:
        where = f"messages.{action.value}"
        if action.value not in raw_messages:
            raise r.fail("messages", f"no message for action {action.value!r}")
        body = r.mapping(raw_messages[action.value], where)
        key = r.string(body.get("key"), f"{where}.key")
        if not set(key) <= fields[key_field].charset or len(key) > fields[key_field].max_length:
            raise r.fail(f"{where}.key", f"does not fit field {key_field}")
        items = r.names(body.get("fields"), f"{where}.fields")
        for i, item in enumerate(items):
            if item not in fields and item not in groups:
                raise r.fail(f"{where}.fields[{i}]", f"unknown field {item!r}")
            if item in fields and fields[item].group is not None:
                raise r.fail(f"{where}.fields[{i}]",
                             f"{item} belongs to group {fields[item].group!r}; list the group")
            if item == key_field:
                raise r.fail(f"{where}.fields[{i}]", f"{key_field} is always the first line")
        if len(set(items)) != len(items):
            raise r.fail(f"{where}.fields", "lists a field twice")
        listed = {m for item in items
                  for m in (groups[item].fields if item in groups else (item,))}
        required = r.names(body.get("required", []), f"{where}.required")
        for i, mnemonic in enumerate(required):
            if mnemonic not in listed:
                raise r.fail(f"{where}.required[{i}]", f"{mnemonic!r} is not in fields")
        if action is not Action.ISSUE and "NIC" not in required:
            raise r.fail(f"{where}.required", "every action after the entry must require NIC")
        one_of = []
        for i, group in enumerate(body.get("required_one_of") or []):
            at = f"{where}.required_one_of[{i}]"
            group = r.mapping(group, at)
            names = r.names(group.get("fields"), f"{at}.fields")
            for j, mnemonic in enumerate(names):
                if mnemonic not in listed:
                    raise r.fail(f"{at}.fields[{j}]", f"{mnemonic!r} is not in fields")
            if not names:
                raise r.fail(f"{at}.fields", "must name at least one field")
            one_of.append((tuple(names), r.string(group.get("rule"), f"{at}.rule")))
        messages[action] = MessageSpec(
            action=action, key=key, meaning=r.string(body.get("meaning"), f"{where}.meaning"),
            items=tuple(items), required=frozenset(required),
            assumption=body.get("assumption"), required_one_of=tuple(one_of))

    limits = r.mapping(doc.get("limits", {}), "limits")
    return Layout(
        path=source,
        version=str(doc.get("layout_version", "")),
        field_separator=field_sep,
        value_separator=value_sep,
        key_field=key_field,
        supplemental_marker=r.string(fmt.get("supplemental_marker"), "format.supplemental_marker"),
        date_format=date_format,
        date_format_text=str(fmt.get("date_format_text", date_format)),
        max_restrained_persons=r.integer(limits.get("restrained_persons", 1),
                                         "limits.restrained_persons"),
        fields=fields,
        groups=groups,
        messages=messages,
        tables=tables,
        format_assumption=fmt.get("assumption"),
    )


def load_layout(path: str | Path = DEFAULT_LAYOUT_PATH) -> Layout:
    """Read and check a layout file; `LayoutError` for an unreadable or inconsistent one."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LayoutError(f"{path}: cannot read the layout ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise LayoutError(f"{path}: not valid YAML ({exc})") from exc
    return parse_layout(raw, str(path))


@functools.cache
def default_layout() -> Layout:
    """The shipped layout, loaded and checked once per process."""
    return load_layout(resources.require("schemas/clets-layout.yaml"))
