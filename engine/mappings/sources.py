"""The three source formats a court export comes in: decoding bytes and reading paths.

A source turns one message's bytes into a document (`DecodeError` for anything that is not
a well-formed message of its format) and compiles the mapping's paths into small getters,
once, at load. Paths that can never match (bad syntax, an undeclared XML prefix, a CSV
column the export does not have) are reported by `PathInvalid` so the compiler can name
the file, line and key.

- JSON: dotted keys with list indexes, ``Case.Parties[0].Name``; ``.`` is the item itself.
- XML: XPath 1.0 relative to the current element, with the mapping's namespace prefixes,
  compiled once with ``etree.XPath``; documents parsed only by `parse_untrusted_xml`.
- CSV: a header column name; ``each: rows`` (in the compiler) is every data row.

Record-oriented text exports (one record a line, per-type layouts) are the fourth format,
in `engine.mappings.records`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from typing import Any

from lxml import etree

from engine.canonical import MAX_MESSAGE_BYTES
from engine.errors import DecodeError
from engine.safexml import parse_untrusted_xml

__all__ = ["CsvSource", "Getter", "JsonSource", "PathInvalid", "Source", "XmlSource",
           "decode_text"]


def decode_text(raw: bytes, encoding: str) -> str:
    """A text export's characters: bytes within the size cap, decoded exactly as the mapping
    declares (a wrong byte is refused with its offset, never replaced), without a BOM."""
    if not isinstance(raw, bytes | bytearray):
        raise DecodeError("a message must be bytes")
    if len(raw) > MAX_MESSAGE_BYTES:
        raise DecodeError(f"message is {len(raw)} bytes; the limit is {MAX_MESSAGE_BYTES}")
    try:
        text = bytes(raw).decode(encoding)
    except UnicodeDecodeError as exc:
        raise DecodeError(f"message is not valid {encoding} (byte {exc.start})") from None
    return text.removeprefix("\ufeff")


#: Reads one value (or a list, for the many-getters) from a context; None when absent.
Getter = Callable[[Any], Any]

#: A key (any text but '.', '[', ']' and outer blanks) and list indexes: ``Parties[0]``.
_JSON_SEGMENT = re.compile(r"^([^.\[\]\s](?:[^.\[\]]*[^.\[\]\s])?)?((?:\[\d+\])*)$")
_JSON_INDEX = re.compile(r"\[(\d+)\]")
_XPATH_PREFIX = re.compile(r"(?<![\w.:-])([A-Za-z_][\w.-]*):(?![:/])(?=[A-Za-z_*])")


#: What to use for an export that is not one CSV table.
_RECORDS_HINT = "describe it as `format: records` (docs/mapping-guide.md, Record exports)"


class PathInvalid(ValueError):
    """A path that can never match any message; the text says why."""


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


class Source:
    """One source format: how to decode a message and how to read a path in it."""

    format: str = ""

    def decode(self, raw: bytes) -> tuple[Any, Any]:
        """(document, root context) of one message."""
        raise NotImplementedError

    def getter(self, path: str) -> Getter:
        """A function reading the first value at `path` from a context."""
        raise NotImplementedError

    def many(self, path: str) -> Getter:
        """A function reading every item at `path` from a context (for repeated groups)."""
        raise NotImplementedError

    def describe(self, path: Any) -> Any:
        """A path as an error message names it (record exports add the record type)."""
        return path

    def enter(self, each: str | None) -> None:
        """The compiler starts a group whose items come from `each` (record sources use it
        to know which record type a bare column names)."""

    def leave(self) -> None:
        """The compiler has finished the group it last entered."""

    def unread_columns(self) -> list[str] | None:
        """Source columns no rule reads (None where the format has no declared columns)."""
        return None


class JsonSource(Source):
    format = "json"

    def decode(self, raw: bytes) -> tuple[Any, Any]:
        if not isinstance(raw, bytes | bytearray):
            raise DecodeError("a message must be bytes")
        if len(raw) > MAX_MESSAGE_BYTES:
            raise DecodeError(f"message is {len(raw)} bytes; the limit is {MAX_MESSAGE_BYTES}")
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"message is not valid UTF-8 (byte {exc.start})") from None
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DecodeError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") \
                from None
        except RecursionError:
            raise DecodeError("JSON nests too deeply") from None
        except ValueError as exc:  # e.g. an integer longer than Python converts
            raise DecodeError(f"not usable JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise DecodeError("the message must be a JSON object")
        return doc, doc

    @staticmethod
    def _steps(path: str) -> tuple[str | int, ...]:
        if path == ".":
            return ()
        if not path or path.startswith(".") or path.endswith(".") or ".." in path:
            raise PathInvalid("a JSON path is keys joined by '.', like Case.Parties[0].Name")
        steps: list[str | int] = []
        for segment in path.split("."):
            match = _JSON_SEGMENT.match(segment)
            if not match or not segment:
                raise PathInvalid(f"segment {segment!r} is not a key or key[index]")
            if match.group(1):
                steps.append(match.group(1))
            steps.extend(int(i) for i in _JSON_INDEX.findall(match.group(2)))
        return tuple(steps)

    def _walker(self, path: str) -> Getter:
        steps = self._steps(path)
        if not steps:
            return lambda ctx: ctx

        def walk(ctx: Any) -> Any:
            value = ctx
            for step in steps:
                if type(value) is dict and type(step) is str:
                    value = value.get(step)
                elif type(value) is list and type(step) is int:
                    value = value[step] if step < len(value) else None
                else:
                    return None
            return value
        return walk

    def getter(self, path: str) -> Getter:
        steps = self._steps(path)
        if steps and all(type(s) is str for s in steps) and len(steps) <= 3:
            return _key_getter(*steps)  # type: ignore[arg-type]
        walk = self._walker(path)

        def get(ctx: Any) -> Any:
            value = walk(ctx)
            if value.__class__ is str and (not value or value.isspace()):
                return None
            return value
        return get

    def many(self, path: str) -> Getter:
        walk = self._walker(path)

        def get_many(ctx: Any) -> list[Any]:
            value = walk(ctx)
            if value is None:
                return []
            return value if type(value) is list else [value]
        return get_many


def _key_getter(first: str, second: str | None = None, third: str | None = None) -> Getter:
    """A getter for a path of up to three keys, unrolled: the common case, made fast."""
    if second is None:
        def get_one(ctx: Any) -> Any:
            value = ctx.get(first) if ctx.__class__ is dict else None
            if value.__class__ is str and (not value or value.isspace()):
                return None
            return value
        get_one.json_keys = (first,)  # type: ignore[attr-defined]  # lets a node inline it
        return get_one

    def get(ctx: Any) -> Any:
        value = ctx.get(first) if ctx.__class__ is dict else None
        if second is not None:
            value = value.get(second) if value.__class__ is dict else None
            if third is not None:
                value = value.get(third) if value.__class__ is dict else None
        if value.__class__ is str and (not value or value.isspace()):
            return None
        return value
    get.json_keys = tuple(k for k in (first, second, third) if k is not None)  # type: ignore[attr-defined]
    return get


def _element_text(item: Any) -> Any:
    if isinstance(item, etree._Element):
        return item.text
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, float):
        return str(int(item)) if item.is_integer() else str(item)
    return item


class XmlSource(Source):
    format = "xml"

    def __init__(self, namespaces: dict[str, str]) -> None:
        self.namespaces = dict(namespaces)
        self._probe = etree.Element("probe")

    def decode(self, raw: bytes) -> tuple[Any, Any]:
        if not isinstance(raw, bytes | bytearray):
            raise DecodeError("a message must be bytes")
        root = parse_untrusted_xml(bytes(raw))
        return root, root

    def _compile(self, path: str) -> etree.XPath:
        unquoted = re.sub(r"'[^']*'|\"[^\"]*\"", "''", path)  # literals hold no prefixes
        for prefix in _XPATH_PREFIX.findall(unquoted):
            if prefix not in self.namespaces:
                raise PathInvalid(f"XML prefix {prefix!r} is not declared in "
                                  "source.namespaces")
        try:
            xpath = etree.XPath(path, namespaces=self.namespaces, smart_strings=False)
            xpath(self._probe)  # unknown functions and prefixes only show on evaluation
        except (etree.XPathSyntaxError, etree.XPathEvalError) as exc:
            raise PathInvalid(f"not a usable XPath: {exc}") from None
        return xpath

    def getter(self, path: str) -> Getter:
        if path == ".":
            return lambda ctx: _blank_to_none(ctx.text if isinstance(ctx, etree._Element)
                                              else ctx)
        xpath = self._compile(path)

        def get(ctx: Any) -> Any:
            if not isinstance(ctx, etree._Element):
                return None
            result = xpath(ctx)
            if isinstance(result, list):
                if not result:
                    return None
                result = result[0]
            return _blank_to_none(_element_text(result))
        return get

    def many(self, path: str) -> Getter:
        xpath = self._compile(path)

        def get_many(ctx: Any) -> list[Any]:
            if not isinstance(ctx, etree._Element):
                return []
            result = xpath(ctx)
            if not isinstance(result, list):
                result = [result]
            return [r if isinstance(r, etree._Element) else _element_text(r) for r in result]
        return get_many


class _CsvDocument:
    """The rows of one CSV message, each a dict keyed by header name."""

    __slots__ = ("rows",)

    def __init__(self, rows: list[dict[str, str]]) -> None:
        self.rows = rows


class CsvSource(Source):
    format = "csv"

    def __init__(self, *, delimiter: str, record: str, encoding: str,
                 columns: tuple[str, ...] | None, ignore: frozenset[str] = frozenset(),
                 ) -> None:
        self.ignore = ignore
        self.delimiter = delimiter
        self.record = record
        self.encoding = encoding
        self.columns = columns
        self.used_columns: set[str] = set()

    def decode(self, raw: bytes) -> tuple[Any, Any]:
        rows = self.decode_rows(raw)
        if self.record == "row" and len(rows) != 1:
            raise DecodeError(f"expected one data row per message, found {len(rows)}")
        return _CsvDocument(rows), rows[0]

    def row_documents(self, raw: bytes) -> list[tuple[Any, dict[str, str]]]:
        """(document, root) for each data row on its own (``record: row`` files)."""
        return [(_CsvDocument([row]), row) for row in self.decode_rows(raw)]

    def decode_rows(self, raw: bytes) -> list[dict[str, str]]:
        """Every data row of a CSV message, checked against the header."""
        text = decode_text(raw, self.encoding)
        try:
            records = list(csv.reader(io.StringIO(text, newline=""),
                                      delimiter=self.delimiter, strict=True))
        except csv.Error as exc:
            raise DecodeError(f"not CSV: {exc}") from None
        records = [r for r in records if any(cell.strip() for cell in r)]
        if not records:
            raise DecodeError("the CSV message is empty")
        header = [h.strip() for h in records[0]]
        if len(set(header)) != len(header):
            raise DecodeError("line 1: the CSV header names a column twice (a file without a "
                              f"header line, or with several kinds of row? {_RECORDS_HINT})")
        missing = sorted(self.used_columns - set(header))
        if missing:
            raise DecodeError(f"the CSV header lacks column(s) {', '.join(missing)}")
        if len(records) < 2:
            raise DecodeError("the CSV message has a header but no data row")
        rows = []
        for number, record in enumerate(records[1:], start=2):
            if len(record) != len(header):
                raise DecodeError(f"CSV record {number} has {len(record)} fields; "
                                  f"the header has {len(header)} (rows of several widths? "
                                  f"{_RECORDS_HINT})")
            rows.append(dict(zip(header, record, strict=True)))
        return rows

    def unread_columns(self) -> list[str] | None:
        if self.columns is None:
            return None
        return [c for c in self.columns if c not in self.used_columns and c not in self.ignore]

    def _column(self, path: str) -> str:
        if not path.strip() or path != path.strip():
            raise PathInvalid("a CSV path is a header column name without outer blanks")
        if self.columns is not None and path not in self.columns:
            raise PathInvalid(f"column {path!r} is not in source.columns")
        if path in self.ignore:
            raise PathInvalid(f"column {path!r} is listed in source.ignore; a column is read "
                              "or ignored, not both")
        self.used_columns.add(path)
        return path

    def getter(self, path: str) -> Getter:
        if path == ".":
            return lambda ctx: _blank_to_none(ctx if isinstance(ctx, str) else None)
        column = self._column(path)

        def get(ctx: Any) -> Any:
            if type(ctx) is not dict:
                return None
            return _blank_to_none(ctx.get(column))
        return get

    def many(self, path: str) -> Getter:
        get = self.getter(path)

        def get_many(ctx: Any) -> list[Any]:
            value = get(ctx)
            return [] if value is None else [value]
        return get_many
