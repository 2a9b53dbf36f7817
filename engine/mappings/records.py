"""Record-oriented text exports: one record a line, each line's type saying its layout.

Legacy CMS exports (pipe-delimited or fixed-width, a header, party lines, term lines with
continuation lines, a trailer with a record count) cannot be read as one CSV table. This
source decodes such a file into typed records and checks its structure before any field
is mapped, so a truncated file, a mistyped record type or a missing line is refused with
its line number and the rule it breaks (`StructureError`), never mapped to a quieter order.

Paths (compiled once, with the record type of the group being compiled):

- ``COL`` - a column of the current record (inside ``each: TYPE``);
- ``TYPE.COL`` - at the top level, the column of the one record of ``TYPE`` (its
  ``occurs`` must be ``one`` or ``at_most_one``: which of several would it be?); inside a
  group, the current record's own type or a parent type, or the values of the current
  record's child records of ``TYPE`` (a list: ``join`` them);
- ``each: TYPE`` - every record of ``TYPE`` (under a record: its children of ``TYPE``).

Which columns a mapping reads is recorded at load, so `unread_columns` can name every column
of every record type that the mapping never reads and does not list in ``ignore``.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from typing import Any

from engine.errors import DecodeError, StructureError
from engine.mappings.sources import Getter, PathInvalid, Source, decode_text

__all__ = [
    "LINE_ENDINGS",
    "OCCURS",
    "Record",
    "RecordDocument",
    "RecordSource",
    "RecordType",
    "StructureRules",
]

#: How often a record type may appear (in the file; for a child type, under each parent).
OCCURS = ("one", "at_most_one", "one_or_more", "any")
#: Declared line endings: every line must end so (the last line may end without one).
LINE_ENDINGS = {"crlf": "\r\n", "lf": "\n", "any": None}
_LINE_BREAK = re.compile(r"(\r\n|\n|\r)")
_OCCURS_TEXT = {"one": "exactly one", "at_most_one": "at most one",
                "one_or_more": "one or more", "any": "any number of"}


@dataclass(frozen=True, slots=True)
class RecordType:
    """One record type's layout: its columns (with start/length for fixed width)."""

    name: str
    columns: tuple[str, ...]
    #: Fixed width: (start index, end index) of each column, 0-based, end exclusive.
    spans: tuple[tuple[int, int], ...] | None = None
    occurs: str = "any"
    #: A child record (a continuation line) hangs under the nearest record of this type.
    parent: str | None = None
    ignore: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class StructureRules:
    """Whole-file rules; each refusal names its rule by the mapping key it came from."""

    first: str | None = None
    last: str | None = None
    #: (rule name, record type, column, counted record types or None for every record)
    counts: tuple[tuple[str, str, str, tuple[str, ...] | None], ...] = ()
    #: (rule name, record type, column, summed record type, summed column)
    totals: tuple[tuple[str, str, str, str, str], ...] = ()


class Record:
    """One line of the export: its type, line number, values by column, children."""

    __slots__ = ("children", "doc", "line", "parent", "type", "values")

    def __init__(self, rtype: str, line: int, values: dict[str, str | None],
                 doc: RecordDocument) -> None:
        self.type = rtype
        self.line = line
        self.values = values
        self.doc = doc
        self.parent: Record | None = None
        self.children: dict[str, list[Record]] = {}


@dataclass(slots=True)
class RecordDocument:
    """Every record of one file in order, and the records of each type."""

    records: list[Record] = field(default_factory=list)
    by_type: dict[str, list[Record]] = field(default_factory=dict)
    last_line: int = 0

    def single(self, rtype: str) -> Record | None:
        found = self.by_type.get(rtype)
        return found[0] if found else None


def _blank_to_none(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    return value


class RecordSource(Source):
    """A record-oriented text export, delimited or fixed-width (see the module docstring)."""

    format = "records"

    def __init__(self, *, types: dict[str, RecordType], encoding: str, line_endings: str,
                 delimiter: str | None, quote: str | None,
                 type_field: int | None, type_span: tuple[int, int] | None,
                 rules: StructureRules) -> None:
        self.types = types
        self.encoding = encoding
        self.line_ending = LINE_ENDINGS[line_endings]
        self.line_endings = line_endings
        self.delimiter = delimiter
        self.quote = quote
        #: Delimited: 0-based index of the field holding the record type.
        self.type_field = type_field
        #: Fixed width: (start, end) of the record type.
        self.type_span = type_span
        self.rules = rules
        self.used: set[tuple[str, str]] = set()
        self._context: list[str | None] = [None]
        if type_field is not None:
            for rtype in types.values():
                if type_field < len(rtype.columns):
                    self.used.add((rtype.name, rtype.columns[type_field]))
        if type_span is not None:
            for rtype in types.values():
                for column, span in zip(rtype.columns, rtype.spans or (), strict=False):
                    if span == type_span:
                        self.used.add((rtype.name, column))
        for count in rules.counts:
            self.used.add((count[1], count[2]))
        for total in rules.totals:
            self.used.update({(total[1], total[2]), (total[3], total[4])})

    # -- decoding --------------------------------------------------------------------
    def decode(self, raw: bytes) -> tuple[Any, Any]:
        doc = self.decode_records(raw)
        return doc, doc

    def _lines(self, raw: bytes) -> list[tuple[int, str]]:
        text = decode_text(raw, self.encoding)
        parts = _LINE_BREAK.split(text)
        lines: list[tuple[int, str]] = []
        for index in range(0, len(parts), 2):
            number = index // 2 + 1
            ending = parts[index + 1] if index + 1 < len(parts) else None
            if (ending is not None and self.line_ending is not None
                    and ending != self.line_ending):
                raise StructureError(number, "source.line_endings",
                                     f"the line ends with {_ending_name(ending)}; the export "
                                     f"declares {self.line_endings.upper()}")
            if parts[index].strip():
                lines.append((number, parts[index]))
        return lines

    def _split(self, number: int, line: str) -> tuple[str, list[str] | str]:
        """(record type, the line's fields or, for fixed width, the line itself)."""
        if self.delimiter is None:
            assert self.type_span is not None or len(self.types) == 1
            if self.type_span is None:
                return next(iter(self.types)), line
            start, end = self.type_span
            return line[start:end].strip(), line
        try:
            fields = next(csv.reader([line], delimiter=self.delimiter,
                                     quotechar=self.quote or '"',
                                     quoting=csv.QUOTE_MINIMAL if self.quote else
                                     csv.QUOTE_NONE, strict=True))
        except csv.Error as exc:
            raise StructureError(number, "source.quote" if self.quote else "source.delimiter",
                                 f"not a delimited record: {exc}") from None
        if self.type_field is None:
            return next(iter(self.types)), fields
        rtype = fields[self.type_field].strip() if self.type_field < len(fields) else ""
        return rtype, fields

    def _values(self, number: int, rtype: RecordType,
                fields: list[str] | str) -> dict[str, str | None]:
        columns = rtype.columns
        if isinstance(fields, list):
            if len(fields) > len(columns) and any(f.strip() for f in fields[len(columns):]):
                raise StructureError(number, f"source.records.{rtype.name}.columns",
                                     f"a {rtype.name} record has {len(fields)} fields; its "
                                     f"layout declares {len(columns)} (data would be left "
                                     "behind)")
            return {name: _blank_to_none(fields[i]) if i < len(fields) else None
                    for i, name in enumerate(columns)}
        assert rtype.spans is not None
        end = max(stop for _, stop in rtype.spans)
        if fields[end:].strip():
            raise StructureError(number, f"source.records.{rtype.name}.columns",
                                 f"a {rtype.name} record has text after column {end}, the "
                                 "end of its layout (data would be left behind)")
        return {name: _blank_to_none(fields[start:stop].strip()) or None
                for name, (start, stop) in zip(columns, rtype.spans, strict=True)}

    def decode_records(self, raw: bytes) -> RecordDocument:
        """Every record of one export, its structure checked; `StructureError` if not."""
        lines = self._lines(raw)
        doc = RecordDocument()
        if not lines:
            raise DecodeError("the export holds no records")
        doc.last_line = lines[-1][0]
        stack: list[Record] = []
        declared = ", ".join(self.types)
        for number, line in lines:
            code, fields = self._split(number, line)
            rtype = self.types.get(code)
            if rtype is None:
                raise StructureError(number, "source.records",
                                     f"the record type is not one of the declared types "
                                     f"({declared})")
            record = Record(code, number, self._values(number, rtype, fields), doc)
            if rtype.parent is not None:
                while stack and stack[-1].type != rtype.parent:
                    stack.pop()
                if not stack:
                    raise StructureError(number, f"source.records.{code}.parent",
                                         f"a {code} record must follow its {rtype.parent} "
                                         "record")
                record.parent = stack[-1]
                record.parent.children.setdefault(code, []).append(record)
                stack.append(record)
            else:
                stack = [record]
            doc.records.append(record)
            doc.by_type.setdefault(code, []).append(record)
        self._check_structure(doc)
        return doc

    def _check_structure(self, doc: RecordDocument) -> None:
        rules = self.rules
        if rules.first is not None and doc.records[0].type != rules.first:
            raise StructureError(doc.records[0].line, "source.structure.first",
                                 f"the file must begin with a {rules.first} record")
        if rules.last is not None and doc.records[-1].type != rules.last:
            raise StructureError(doc.records[-1].line, "source.structure.last",
                                 f"the file must end with a {rules.last} record (is it "
                                 "truncated?)")
        for rtype in self.types.values():
            if rtype.parent is None:
                _check_occurs(rtype, doc.by_type.get(rtype.name, []), doc.last_line)
            else:
                for parent in doc.by_type.get(rtype.parent, []):
                    _check_occurs(rtype, parent.children.get(rtype.name, []), parent.line)
        for name, rtype_name, column, counted in rules.counts:
            holder = doc.single(rtype_name)
            if holder is None:
                continue  # `occurs` of that type says whether it must be there
            said = _required_number(holder, column, name)
            if counted is None:
                found, what = len(doc.records), "records"
            else:
                found = sum(len(doc.by_type.get(t, [])) for t in counted)
                what = f"{'/'.join(counted)} records"
            if said != found:
                raise StructureError(holder.line, name, f"{rtype_name}.{column} counts "
                                     f"{said} {what}; the file has {found} (is it "
                                     "truncated?)")
        for name, rtype_name, column, summed_type, summed_column in rules.totals:
            holder = doc.single(rtype_name)
            if holder is None:
                continue
            said = _required_number(holder, column, name)
            found = sum(_whole_number(r, summed_column, name) or 0
                        for r in doc.by_type.get(summed_type, []))
            if said != found:
                raise StructureError(holder.line, name, f"{rtype_name}.{column} totals "
                                     f"{said}; the {summed_type}.{summed_column} values add "
                                     f"up to {found}")

    # -- paths -----------------------------------------------------------------------
    def enter(self, each: str | None) -> None:
        """The compiler enters a group: its items are records of `each` (if a type)."""
        current = self._context[-1]
        self._context.append(each if each in self.types else current)

    def leave(self) -> None:
        self._context.pop()

    def _resolve(self, path: str) -> tuple[str, str]:
        """(record type, column) a path names, checked against the layouts."""
        current = self._context[-1]
        rtype_name, dot, column = path.rpartition(".")
        if not dot:
            if current is None:
                raise PathInvalid(f"at the top level a path names its record: TYPE.{path} "
                                  f"(record types: {', '.join(self.types)})")
            rtype_name, column = current, path
        rtype = self.types.get(rtype_name)
        if rtype is None:
            raise PathInvalid(f"no record type {rtype_name!r} in source.records "
                              f"(declared: {', '.join(self.types)})")
        if column not in rtype.columns:
            raise PathInvalid(f"{column!r} is not a column of {rtype_name} records "
                              f"(columns: {', '.join(rtype.columns)})")
        if column in rtype.ignore:
            raise PathInvalid(f"{rtype_name}.{column} is listed in `ignore`; a column is "
                              "read or ignored, not both")
        return rtype_name, column

    def describe(self, path: Any) -> Any:
        """``COL`` inside ``each: RSP`` as ``RSP.COL``, so an error names the record type."""
        try:
            return ".".join(self._resolve(path)) if isinstance(path, str) else path
        except PathInvalid:
            return path

    def _ancestors(self, rtype_name: str | None) -> list[str]:
        out = []
        while rtype_name is not None:
            out.append(rtype_name)
            rtype_name = self.types[rtype_name].parent
        return out

    def getter(self, path: str) -> Getter:
        current = self._context[-1]
        if path == ".":
            return lambda ctx: _blank_to_none(ctx) if isinstance(ctx, str) else None
        rtype_name, column = self._resolve(path)
        self.used.add((rtype_name, column))
        if rtype_name in self._ancestors(current):
            hops = self._ancestors(current).index(rtype_name)

            def from_record(ctx: Any) -> Any:
                for _ in range(hops):
                    ctx = ctx.parent if ctx is not None else None
                return ctx.values.get(column) if isinstance(ctx, Record) else None
            return from_record
        if current is not None and self.types[rtype_name].parent == current:
            def from_children(ctx: Any) -> Any:
                if not isinstance(ctx, Record):
                    return None
                values = [c.values.get(column) for c in ctx.children.get(rtype_name, [])]
                values = [v for v in values if v is not None]
                return values or None
            return from_children
        rtype = self.types[rtype_name]
        if rtype.parent is not None or rtype.occurs not in ("one", "at_most_one"):
            raise PathInvalid(
                f"{rtype_name} records can occur more than once (occurs: {rtype.occurs}"
                f"{', under ' + rtype.parent if rtype.parent else ''}), so "
                f"{rtype_name}.{column} does not name one value: read it in a group with "
                f"`each: {rtype_name}`, or declare `occurs: one` / `at_most_one`")

        def from_single(ctx: Any) -> Any:
            doc = ctx if isinstance(ctx, RecordDocument) else getattr(ctx, "doc", None)
            record = doc.single(rtype_name) if doc is not None else None
            return record.values.get(column) if record is not None else None
        return from_single

    def many(self, path: str) -> Getter:
        current = self._context[-1]
        if path in self.types:
            rtype = self.types[path]
            if current is not None and rtype.parent == current:
                return lambda ctx: (ctx.children.get(path, []) if isinstance(ctx, Record)
                                    else [])
            if rtype.parent is not None and current is None:
                raise PathInvalid(f"{path} records hang under {rtype.parent} records: "
                                  f"read them inside `each: {rtype.parent}`")

            def every(ctx: Any) -> list[Any]:
                doc = ctx if isinstance(ctx, RecordDocument) else getattr(ctx, "doc", None)
                return list(doc.by_type.get(path, [])) if doc is not None else []
            return every
        get = self.getter(path)

        def get_many(ctx: Any) -> list[Any]:
            value = get(ctx)
            if value is None:
                return []
            return value if isinstance(value, list) else [value]
        return get_many

    # -- coverage --------------------------------------------------------------------
    def unread_columns(self) -> list[str]:
        """Every ``TYPE.COLUMN`` the mapping neither reads nor lists in ``ignore``."""
        return [f"{rtype.name}.{column}" for rtype in self.types.values()
                for column in rtype.columns
                if (rtype.name, column) not in self.used and column not in rtype.ignore]


def _ending_name(ending: str) -> str:
    return {"\r\n": "CRLF", "\n": "LF", "\r": "CR"}[ending]


def _check_occurs(rtype: RecordType, found: list[Record], line: int) -> None:
    count = len(found)
    rule = f"source.records.{rtype.name}.occurs"
    where = f" under the {rtype.parent} record" if rtype.parent else ""
    if count == 0 and rtype.occurs in ("one", "one_or_more"):
        raise StructureError(line, rule, f"no {rtype.name} record{where}; the export must "
                             f"have {_OCCURS_TEXT[rtype.occurs]}")
    if count > 1 and rtype.occurs in ("one", "at_most_one"):
        raise StructureError(found[1].line, rule, f"a second {rtype.name} record{where}; "
                             f"the export may have {_OCCURS_TEXT[rtype.occurs]}")


def _required_number(record: Record, column: str, rule: str) -> int:
    said = _whole_number(record, column, rule)
    if said is None:
        raise StructureError(record.line, rule, f"{record.type}.{column} is empty; the rule "
                             "needs its number (is the file truncated?)")
    return said


def _whole_number(record: Record, column: str, rule: str) -> int | None:
    text = record.values.get(column)
    if text is None:
        return None
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise StructureError(record.line, rule,
                             f"{record.type}.{column} is not a whole number")
    return int(text)

