"""A loaded court mapping: one call turns a CMS message into a checked canonical `Order`.

`load_mapping` reads and compiles the file once (every problem a `MappingError` with file,
line and key); `Mapping.apply` then costs one decode, one walk of precompiled closures and
the canonical model's own validation (`engine.canonical.order_from_dict`), so every rule of
the model and of `engine.law.checks` applies to mapped orders exactly as to canonical ones.
Errors carry canonical field paths; the reason says which source path and mapping line
the value came from, never the value.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from engine.canonical import order_from_dict
from engine.errors import FieldError, InputError, OrderInvalid
from engine.mappings.compiler import CompiledMapping, compile_mapping
from engine.mappings.runtime import Run
from engine.mappings.sources import CsvSource
from engine.mappings.yamlsource import load_located
from engine.model import Order

__all__ = ["Mapping", "load_mapping"]

_INDEX = re.compile(r"(?<=\.)\d+(?=\.|$)")


class Mapping:
    """A compiled court mapping. Build one with `load_mapping`."""

    __slots__ = ("_build", "_origins", "_source", "file", "format", "name")

    def __init__(self, compiled: CompiledMapping) -> None:
        self.name = compiled.name
        self.file = compiled.file
        self.format = compiled.source.format
        self._source = compiled.source
        self._build = compiled.build
        self._origins = compiled.origins

    def unread_columns(self) -> list[str] | None:
        """Source columns no rule or structure rule reads and no ``ignore`` lists (record
        exports: ``TYPE.COLUMN``; CSV with ``columns``: the column); None for JSON/XML."""
        return self._source.unread_columns()

    def __repr__(self) -> str:
        return f"<Mapping {self.name!r} ({self.format}) from {self.file}>"

    def _map(self, doc: Any, root: Any) -> tuple[dict[str, Any], list[FieldError],
                                                 dict[str, int]]:
        run = Run(doc)
        data = self._build(root, run, "")
        return data, run.problems, run.lines

    def to_canonical_dict(self, raw: bytes) -> dict[str, Any]:
        """The message in canonical intake shape, before the model checks it.

        `DecodeError` for bad bytes; `OrderInvalid` when a value cannot be mapped."""
        doc, root = self._source.decode(raw)
        data, problems, lines = self._map(doc, root)
        if problems:
            raise OrderInvalid(self._explained(problems, lines))
        return data

    def apply(self, raw: bytes) -> Order:
        """One CMS message as a checked canonical `Order`.

        `DecodeError` for bytes that are not a message of the mapping's format;
        `OrderInvalid` (canonical field paths, with the mapping source in each reason)
        for an order that cannot be mapped or breaks a rule of the model."""
        doc, root = self._source.decode(raw)
        return self._order(*self._map(doc, root))

    def apply_rows(self, raw: bytes) -> list[Order | InputError]:
        """For a CSV export with one order a row: each row's order, or its own error.

        One bad row never hides the others; `DecodeError` only when the file itself is
        not usable CSV."""
        if not isinstance(self._source, CsvSource):
            raise TypeError("apply_rows is for CSV mappings with `record: row`")
        results: list[Order | InputError] = []
        for doc, row in self._source.row_documents(raw):
            try:
                results.append(self._order(*self._map(doc, row)))
            except InputError as exc:
                results.append(exc)
        return results

    def _order(self, data: dict[str, Any], problems: list[FieldError],
               lines: dict[str, int]) -> Order:
        try:
            order = order_from_dict(data)
        except OrderInvalid as exc:
            model_errors = [e for e in exc.errors
                            if not any(_covers(p.path, e.path) for p in problems)]
            raise OrderInvalid(self._explained([*problems, *model_errors], lines)) from None
        if problems:
            raise OrderInvalid(self._explained(problems, lines))
        return order

    def origin_of(self, path: str) -> str | None:
        """Where a canonical field's value comes from in this mapping (for messages)."""
        pattern = _INDEX.sub("*", path)
        while pattern:
            found = self._origins.get(pattern)
            if found is not None:
                return found
            pattern = pattern.rpartition(".")[0]
        return None

    def _explained(self, errors: list[FieldError],
                   lines: dict[str, int] | None = None) -> list[FieldError]:
        out = []
        for error in errors:
            origin = self.origin_of(error.path)
            where = f"mapping {self.name}: {origin}" if origin else f"mapping {self.name}"
            line = _input_line(error.path, lines or {})
            if line is not None:
                where += f"; input line {line}"
            out.append(FieldError(error.path, f"{error.reason} [{where}]"))
        return out


def _input_line(path: str, lines: dict[str, int]) -> int | None:
    """The input line of the deepest list item a canonical path is in (record exports)."""
    while path:
        if path in lines:
            return lines[path]
        path = path.rpartition(".")[0]
    return None


def _covers(problem_path: str, path: str) -> bool:
    return path == problem_path or path.startswith(problem_path + ".")


def load_mapping(path: str | Path) -> Mapping:
    """Load and check a mapping file; `MappingError` names file, line and key of each fault."""
    file = Path(path)
    return Mapping(compile_mapping(str(file), load_located(file)))
