"""`source: {format: records, ...}` checked at load into a `RecordSource`.

Every layout fault (a column named twice, overlapping fixed-width columns, a parent type
that is not declared, a structure rule naming a column no layout has) is one line of the
mapping's load error, with its file line and key, like every other mapping fault.
"""

from __future__ import annotations

from typing import Any

from engine.mappings.records import (
    LINE_ENDINGS,
    OCCURS,
    RecordSource,
    RecordType,
    StructureRules,
)
from engine.mappings.reporter import Reporter
from engine.mappings.yamlsource import Located, LocatedList

__all__ = ["RECORD_SOURCE_KEYS", "compile_record_source"]

RECORD_SOURCE_KEYS = ("format", "layout", "delimiter", "quote", "encoding", "line_endings",
                      "record_type", "records", "structure")
_RECORD_KEYS = ("columns", "occurs", "parent", "ignore", "description")
_STRUCTURE_KEYS = ("first", "last", "counts", "totals")
_LAYOUTS = ("delimited", "fixed_width")


def _positive(text: Any) -> int | None:
    if isinstance(text, str) and text.isascii() and text.isdigit() and int(text) > 0:
        return int(text)
    return None


class _RecordSpec:
    def __init__(self, reporter: Reporter, encodings: tuple[str, ...]) -> None:
        self.error = reporter.error
        self.check_keys = reporter.check_keys
        self.encodings = encodings

    def compile(self, spec: Located) -> RecordSource:
        self.check_keys(spec, RECORD_SOURCE_KEYS, "source")
        layout = spec.get("layout", "delimited")
        if layout not in _LAYOUTS:
            self.error(spec, "layout", "source.layout", f"must be one of: {', '.join(_LAYOUTS)}")
            layout = "delimited"
        fixed = layout == "fixed_width"
        delimiter = spec.get("delimiter")
        if fixed:
            if delimiter is not None:
                self.error(spec, "delimiter", "source.delimiter",
                           "a fixed-width layout has no delimiter")
            delimiter = None
        elif not isinstance(delimiter, str) or len(delimiter) != 1:
            self.error(spec, "delimiter", "source.delimiter",
                       "a delimited layout needs its one-character delimiter, e.g. '|'")
            delimiter = "|"
        quote = spec.get("quote")
        if quote is not None and (fixed or not isinstance(quote, str) or len(quote) != 1):
            self.error(spec, "quote", "source.quote",
                       "a delimited layout's quote character, one character")
            quote = None
        encoding = spec.get("encoding", "utf-8")
        if encoding not in self.encodings:
            self.error(spec, "encoding", "source.encoding",
                       f"must be one of: {', '.join(self.encodings)}")
            encoding = "utf-8"
        line_endings = spec.get("line_endings", "any")
        if line_endings not in LINE_ENDINGS:
            self.error(spec, "line_endings", "source.line_endings",
                       f"must be one of: {', '.join(LINE_ENDINGS)}")
            line_endings = "any"
        types = self.record_types(spec, fixed)
        type_field, type_span = self.record_type(spec, fixed, types)
        rules = self.structure(spec, types)
        return RecordSource(types=types, encoding=encoding, line_endings=line_endings,
                            delimiter=delimiter, quote=quote, type_field=type_field,
                            type_span=type_span, rules=rules)

    def record_types(self, spec: Located, fixed: bool) -> dict[str, RecordType]:
        records = spec.get("records")
        if not isinstance(records, Located) or not records:
            self.error(spec, "records", "source.records",
                       "must map each record type to its layout, e.g. "
                       "`HDR: {columns: [REC, CASE_NO]}`")
            return {}
        types: dict[str, RecordType] = {}
        for name, layout in records.items():
            where = f"source.records.{name}"
            if not isinstance(layout, Located):
                self.error(records, name, where, "a record type is a mapping with `columns`")
                continue
            self.check_keys(layout, _RECORD_KEYS, where)
            columns, spans = self.columns(layout, where, fixed)
            occurs = layout.get("occurs", "any")
            if occurs not in OCCURS:
                self.error(layout, "occurs", f"{where}.occurs",
                           f"must be one of: {', '.join(OCCURS)}")
                occurs = "any"
            ignore = layout.get("ignore") or LocatedList(layout.line)
            if not isinstance(ignore, LocatedList):
                self.error(layout, "ignore", f"{where}.ignore",
                           "must be a list of this record type's columns")
                ignore = LocatedList(layout.line)
            for column in ignore:
                if column not in columns:
                    self.error(layout, "ignore", f"{where}.ignore",
                               f"{column!r} is not a column of {name} records")
            types[name] = RecordType(name, columns, spans, occurs, layout.get("parent"),
                                     frozenset(c for c in ignore if isinstance(c, str)))
        for name, rtype in types.items():
            if rtype.parent is not None and rtype.parent not in types:
                layout = records[name]
                self.error(layout, "parent", f"source.records.{name}.parent",
                           f"no record type {rtype.parent!r} in source.records")
        for name, rtype in types.items():  # a parent chain must end
            seen, parent = {name}, rtype.parent
            while parent in types:
                if parent in seen:
                    self.error(records[name], "parent", f"source.records.{name}.parent",
                               "the parent chain comes back to this record type")
                    types[name] = RecordType(name, rtype.columns, rtype.spans, rtype.occurs,
                                             None, rtype.ignore)
                    break
                seen.add(parent)
                parent = types[parent].parent
        return types

    def columns(self, layout: Located, where: str,
                fixed: bool) -> tuple[tuple[str, ...], tuple[tuple[int, int], ...] | None]:
        columns = layout.get("columns")
        if not isinstance(columns, LocatedList) or not columns:
            self.error(layout, "columns", f"{where}.columns", "must list the record's columns"
                       + (" as {name, start, length}" if fixed else ""))
            return (), (() if fixed else None)
        names: list[str] = []
        spans: list[tuple[int, int]] = []
        for index, column in enumerate(columns):
            holder = LocatedList(columns.item_lines[index])
            here = f"{where}.columns[{index}]"
            if fixed:
                if not (isinstance(column, Located) and set(column) == {"name", "start",
                                                                        "length"}):
                    self.error(holder, "", here, "a fixed-width column is "
                               "{name: X, start: <1-based position>, length: <characters>}")
                    continue
                start, length = _positive(column["start"]), _positive(column["length"])
                if start is None or length is None:
                    self.error(holder, "", here, "start and length are whole numbers from 1")
                    continue
                span = (start - 1, start - 1 + length)
                for other, (a, b) in zip(names, spans, strict=True):
                    if span[0] < b and a < span[1]:
                        self.error(holder, "", here, f"overlaps column {other!r}")
                spans.append(span)
                name = column["name"]
            else:
                name = column
            if not isinstance(name, str) or not name.strip() or "." in name:
                self.error(holder, "", here, "a column name is text without '.'")
                if fixed:
                    spans.pop()
                continue
            if name in names:
                self.error(holder, "", here, f"column {name!r} is named twice")
            names.append(name)
        return tuple(names), (tuple(spans) if fixed else None)

    def record_type(self, spec: Located, fixed: bool, types: dict[str, RecordType],
                    ) -> tuple[int | None, tuple[int, int] | None]:
        where = "source.record_type"
        rule = spec.get("record_type")
        if rule is None:
            if len(types) > 1:
                self.error(spec, "records", where, "several record types need "
                           "`record_type` (which field or columns hold the type)")
            return None, None
        if not isinstance(rule, Located):
            self.error(spec, "record_type", where, "must be {field: N} (delimited) or "
                       "{start: N, length: N} (fixed width)")
            return None, None
        if fixed:
            self.check_keys(rule, ("start", "length"), where)
            start, length = _positive(rule.get("start")), _positive(rule.get("length"))
            if start is None or length is None:
                self.error(spec, "record_type", where,
                           "a fixed-width record type is {start: N, length: N}, from 1")
                return None, (0, 1)
            span = (start - 1, start - 1 + length)
            for rtype in types.values():
                if rtype.spans is not None and span not in rtype.spans:
                    self.error(spec, "record_type", where, f"no column of {rtype.name} "
                               "records has exactly these positions (name the type column)")
            return None, span
        self.check_keys(rule, ("field",), where)
        position = _positive(rule.get("field"))
        if position is None:
            self.error(spec, "record_type", where, "a delimited record type is {field: N}, "
                       "the 1-based position of the field holding it")
            return 0, None
        for rtype in types.values():
            if position > len(rtype.columns):
                self.error(spec, "record_type", where, f"{rtype.name} records have only "
                           f"{len(rtype.columns)} columns")
        return position - 1, None

    def _column_ref(self, node: Located, key: str, where: str,
                    types: dict[str, RecordType], *, single: bool) -> tuple[str, str] | None:
        ref = node.get(key)
        rtype_name, _, column = ref.partition(".") if isinstance(ref, str) else ("", "", "")
        rtype = types.get(rtype_name)
        if rtype is None or column not in rtype.columns:
            self.error(node, key, f"{where}.{key}", "must name a column as TYPE.COLUMN of a "
                       "declared record type")
            return None
        if single and (rtype.parent is not None or rtype.occurs not in ("one", "at_most_one")):
            self.error(node, key, f"{where}.{key}", f"{rtype_name} records must have "
                       "`occurs: one` (or at_most_one) to hold a count or total")
            return None
        return rtype_name, column

    def structure(self, spec: Located, types: dict[str, RecordType]) -> StructureRules:
        rules = spec.get("structure")
        if rules is None:
            return StructureRules()
        if not isinstance(rules, Located):
            self.error(spec, "structure", "source.structure", "must be a mapping of rules")
            return StructureRules()
        self.check_keys(rules, _STRUCTURE_KEYS, "source.structure")
        ends: dict[str, str | None] = {}
        for key in ("first", "last"):
            value = rules.get(key)
            if value is not None and value not in types:
                self.error(rules, key, f"source.structure.{key}",
                           f"no record type {value!r} in source.records")
                value = None
            ends[key] = value
        counts = []
        for index, item in enumerate(self._items(rules, "counts")):
            where = f"source.structure.counts[{index}]"
            self.check_keys(item, ("field", "of"), where)
            ref = self._column_ref(item, "field", where, types, single=True)
            of = item.get("of")
            counted: tuple[str, ...] | None = None
            if of is not None and of != "all":
                listed = [of] if isinstance(of, str) else of
                if not isinstance(listed, list) or any(t not in types for t in listed):
                    self.error(item, "of", f"{where}.of", "must be `all` or declared record "
                               "types")
                    continue
                counted = tuple(listed)
            if ref is not None:
                counts.append((where, *ref, counted))
        totals = []
        for index, item in enumerate(self._items(rules, "totals")):
            where = f"source.structure.totals[{index}]"
            self.check_keys(item, ("field", "sum"), where)
            ref = self._column_ref(item, "field", where, types, single=True)
            summed = self._column_ref(item, "sum", where, types, single=False)
            if ref is not None and summed is not None:
                totals.append((where, *ref, *summed))
        return StructureRules(first=ends["first"], last=ends["last"], counts=tuple(counts),
                              totals=tuple(totals))

    def _items(self, rules: Located, key: str) -> list[Located]:
        items = rules.get(key)
        if items is None:
            return []
        if not isinstance(items, LocatedList) or not all(isinstance(i, Located)
                                                         for i in items):
            self.error(rules, key, f"source.structure.{key}", "must be a list of rules like "
                       "{field: TRL.COUNT" + (", of: all}" if key == "counts" else
                                              ", sum: TYPE.COLUMN}"))
            return []
        return list(items)


def compile_record_source(spec: Located, reporter: Reporter,
                          encodings: tuple[str, ...]) -> RecordSource:
    """The record source a mapping's `source` describes; faults go to `reporter`."""
    return _RecordSpec(reporter, encodings).compile(spec)
