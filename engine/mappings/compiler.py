"""Turn a mapping file's data into small functions, checking everything once at load.

The compiler walks the mapping beside the canonical model (`engine.mappings.targets`):
each target key must be a field of the model, each path must be able to match, each code
a canonical code. Every problem found becomes one line of a `MappingError` naming file,
line and key. What comes out is a tree of closures (`engine.mappings.runtime`) that reads
one decoded message into a dict in canonical intake shape, with no per-message look at
the config.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from engine.mappings.codetables import CodeTables
from engine.mappings.conditions import ConditionCompiler
from engine.mappings.recordspec import RECORD_SOURCE_KEYS, compile_record_source
from engine.mappings.reporter import Reporter
from engine.mappings.runtime import (
    GROUP,
    LEAF,
    NODE,
    ORDER_TYPE,
    READ,
    Builder,
    Evaluator,
    PlainRead,
    Run,
    group_builder,
    leaf,
    node_builder,
)
from engine.mappings.sources import CsvSource, JsonSource, PathInvalid, Source, XmlSource
from engine.mappings.steps import TransformCompiler
from engine.mappings.targets import Target, target_fields, value_converter
from engine.mappings.transforms import ValueProblem, as_text
from engine.mappings.yamlsource import Located, LocatedList, mapping_error
from engine.model import Order, PersonName

__all__ = ["CompiledMapping", "compile_mapping"]

_TOP_KEYS = ("mapping", "name", "description", "source", "code_tables", "order")
_SOURCE_KEYS = {
    "json": ("format",),
    "xml": ("format", "namespaces"),
    "csv": ("format", "delimiter", "record", "encoding", "columns", "ignore"),
    "records": RECORD_SOURCE_KEYS,
}
_RULE_KEYS = ("path", "paths", "const", "default", "transform", "table", "when", "from")
_FROM_KEYS = ("each", "where", "occurs")
#: How many items a rule's `from` may select, and what a count outside it is called.
_FROM_OCCURS = {"one": (1, 1, "exactly one"), "at_most_one": (0, 1, "at most one"),
                "one_or_more": (1, None, "one or more")}
#: A run for `from.where` tests, which read source values only (never the order type).
_SOURCE_ONLY_RUN = Run(None)
_RULE_SOURCES = ("path", "paths", "const")
_GROUP_KEYS = ("each", "split", "where", "when", "fields", "value")
_ENCODINGS = ("utf-8", "cp1252", "latin-1")


@dataclass(slots=True)
class CompiledMapping:
    name: str
    file: str
    source: Source
    build: Builder
    #: Canonical path pattern (list indexes as '*') -> where its value comes from.
    origins: dict[str, str] = field(default_factory=dict)


def _pattern(path: str) -> str:
    return re.sub(r"(?<=\.)\d+(?=\.|$)", "*", path)


class _Compiler:
    def __init__(self, file: str, data: Located) -> None:
        self.file = file
        self.data = data
        self.reporter = Reporter(file)
        self.error = self.reporter.error
        self.check_keys = self.reporter.check_keys
        self.origins: dict[str, str] = {}
        self.codes = CodeTables(self.reporter)
        self.transforms = TransformCompiler(self.reporter)
        self.conditions = ConditionCompiler(self.reporter, JsonSource())
        self.name = ""
        self.source: Source = JsonSource()

    def compile_condition(self, parent: Located, key: str, keypath: str) -> Any:
        return self.conditions.condition(parent, key, keypath)

    def getter(self, node: Located, key: str, path: Any, keypath: str) -> Callable[[Any], Any]:
        return self.conditions.getter(node, key, path, keypath)

    def origin(self, path: str, what: str, line: int) -> str:
        text = f"{what} at {self.file}:{line}"
        self.origins.setdefault(_pattern(path), text)
        return text

    # -- top level -------------------------------------------------------------------
    def compile(self) -> CompiledMapping:
        data = self.data
        self.check_keys(data, _TOP_KEYS, "")
        if data.get("mapping") != "1":
            self.error(data, "mapping", "mapping",
                       "must be 1 (the version of the mapping language this file is written in)")
        name = data.get("name")
        self.name = name if isinstance(name, str) else self.file
        self.source = self.compile_source(data.get("source"))
        self.conditions.source = self.source
        tables = data.get("code_tables")
        if tables is not None:
            if isinstance(tables, Located):
                for table_name, table in tables.items():
                    self.codes.add(tables, table_name, table)
            else:
                self.error(data, "code_tables", "code_tables",
                           "must be a mapping of table names to tables")
        order = data.get("order")
        if not isinstance(order, Located):
            self.error(data, "order", "order",
                       "must be a mapping of canonical order fields to rules")
            build: Builder = lambda ctx, run, prefix: {}  # noqa: E731
        else:
            build = self.compile_node(order, Order, "order", "", top=True)
        for table_name in self.codes.tables:
            if table_name not in self.codes.used_tables:
                self.error(tables, table_name, f"code_tables.{table_name}",
                           "is defined but no rule uses it (a misspelt table name?)")
        return CompiledMapping(self.name, self.file, self.source, build, self.origins)

    def compile_source(self, spec: Any) -> Source:
        if not isinstance(spec, Located):
            self.error(self.data, "source", "source",
                       "must say the source format, e.g. `source: {format: json}`")
            return JsonSource()
        fmt = spec.get("format")
        if fmt not in _SOURCE_KEYS:
            self.error(spec, "format", "source.format",
                       "must be one of: json, xml, csv, records")
            return JsonSource()
        if fmt == "records":
            return compile_record_source(spec, self.reporter, _ENCODINGS)
        self.check_keys(spec, _SOURCE_KEYS[fmt], "source")
        if fmt == "json":
            return JsonSource()
        if fmt == "xml":
            namespaces = spec.get("namespaces") or {}
            if not isinstance(namespaces, Located) and namespaces != {}:
                self.error(spec, "namespaces", "source.namespaces",
                           "must map prefixes to namespace URIs")
                namespaces = {}
            clean = {}
            for prefix, uri in namespaces.items():
                if not isinstance(uri, str) or not re.fullmatch(r"[A-Za-z_][\w.-]*", prefix):
                    where = namespaces if isinstance(namespaces, Located) else spec
                    self.error(where, prefix, f"source.namespaces.{prefix}",
                               "a prefix is a name and its value a namespace URI")
                else:
                    clean[prefix] = uri
            return XmlSource(clean)
        delimiter = spec.get("delimiter", ",")
        if not isinstance(delimiter, str) or len(delimiter) != 1:
            self.error(spec, "delimiter", "source.delimiter", "must be one character")
            delimiter = ","
        record = spec.get("record", "message")
        if record not in ("message", "row"):
            self.error(spec, "record", "source.record",
                       "must be 'message' (all rows are one order) or 'row' (one order a row)")
            record = "message"
        encoding = spec.get("encoding", "utf-8")
        if encoding not in _ENCODINGS:
            self.error(spec, "encoding", "source.encoding",
                       f"must be one of: {', '.join(_ENCODINGS)}")
            encoding = "utf-8"
        columns = spec.get("columns")
        if columns is not None and not (isinstance(columns, LocatedList)
                                        and all(isinstance(c, str) for c in columns)):
            self.error(spec, "columns", "source.columns", "must be a list of column names")
            columns = None
        ignore = spec.get("ignore") or []
        if not isinstance(ignore, list) or (columns is None and ignore) or any(
                c not in (columns or ()) for c in ignore):
            self.error(spec, "ignore", "source.ignore",
                       "must list columns of source.columns the mapping leaves on purpose")
            ignore = []
        return CsvSource(delimiter=delimiter, record=record, encoding=encoding,
                         columns=tuple(columns) if columns is not None else None,
                         ignore=frozenset(ignore))

    # -- code tables -----------------------------------------------------------------
    # -- rules -----------------------------------------------------------------------
    def compile_rule(self, parent: Located, key: str, spec: Any, target: Target,
                     keypath: str, canonical: str) -> Evaluator:
        """A rule for one leaf target: where the value comes from and what is done to it."""
        line = parent.line_of(key)
        if isinstance(spec, str):
            rule = Located(line)
            rule["path"] = spec
            rule.key_lines["path"] = line
            spec = rule
        if not isinstance(spec, Located):
            self.error(parent, key, keypath, "a rule is a path or a mapping with `path`, "
                       "`paths` or `const`")
            return lambda ctx, run: None
        self.check_keys(spec, _RULE_KEYS, keypath)
        given = [k for k in _RULE_SOURCES if k in spec]
        if len(given) != 1:
            self.error(parent, key, keypath,
                       "a rule needs exactly one of `path`, `paths`, `const`")
            return lambda ctx, run: None
        convert = value_converter(target)
        when = self.compile_condition(spec, "when", keypath)
        default = None
        if spec.get("default") is not None:
            try:
                default = convert(spec["default"])
            except ValueError as exc:
                self.error(spec, "default", f"{keypath}.default", str(exc))

        if "const" in spec:
            for extra in ("transform", "table", "default", "from"):
                if extra in spec:
                    self.error(spec, extra, f"{keypath}.{extra}",
                               "a constant takes no transform, table, default or from")
            try:
                constant = convert(spec["const"])
            except ValueError as exc:
                self.error(spec, "const", f"{keypath}.const", str(exc))
                constant = None
            self.origin(canonical, "constant", spec.line_of("const"))
            if when is None:
                return lambda ctx, run: constant
            return lambda ctx, run: constant if when(ctx, run) else None

        kind = "text"
        selector = self.compile_from(spec, keypath) if "from" in spec else None
        try:
            if "path" in spec:
                read = self.getter(spec, "path", spec["path"], keypath)
                what = f"path {self.source.describe(spec['path'])!r}"
            else:
                paths = spec["paths"]
                if not isinstance(paths, LocatedList) or not paths:
                    self.error(spec, "paths", f"{keypath}.paths", "must be a list of paths")
                    return lambda ctx, run: None
                getters = [self.getter(spec, "paths", p, keypath) for p in paths]
                read = lambda ctx: [g(ctx) for g in getters]  # noqa: E731
                kind = "list"
                what = f"paths {', '.join(repr(self.source.describe(p)) for p in paths)}"
        finally:
            if selector is not None:
                self.source.leave()
        if selector is not None:
            read, many_values = _selected(read, *selector)
            if many_values:
                kind = "list"
            what = f"{what} of the {spec['from'].get('each')} record selected by `from`"
        self.origin(canonical, what, spec.line_of("path" if "path" in spec else "paths"))

        steps: list[Callable[[Any], Any]] = []
        transform = spec.get("transform")
        if transform is not None:
            if not isinstance(transform, LocatedList):
                self.error(spec, "transform", f"{keypath}.transform",
                           "must be a list of transforms")
            else:
                for index, step in enumerate(transform):
                    fn, kind = self.transforms.step(step, transform, index, keypath, kind)
                    if fn is not None:
                        steps.append(fn)
        if kind == "list":
            self.error(spec, "paths", f"{keypath}.paths",
                       "several paths give several values: add a `join` transform")
        lookup = None
        if spec.get("table") is not None:
            if kind != "text":
                self.error(spec, "table", f"{keypath}.table",
                           f"a code table looks up text, but the value is a {kind}")
            else:
                lookup = self.codes.lookup(spec["table"], target, spec, keypath, convert)
                kind = "code"
        finish = self.check_kind(spec, key, keypath, target, kind)
        if finish is not None:
            steps.append(finish)
        if lookup is not None:
            steps.append(lookup)
        if selector is not None:  # its count check raises ValueProblem: never inlined
            evaluate = leaf(read, tuple(steps), default, when)
            return lambda ctx, run: evaluate(ctx, run)
        if not steps and when is None and default is None:
            return PlainRead(read)
        return leaf(read, tuple(steps), default, when)

    def compile_from(self, spec: Located, keypath: str) -> tuple[Any, Any, str, str]:
        """A rule's `from: {each, where, occurs}`: which repeated item it reads, checked
        per message. Leaves the source entered in `each` (the caller leaves it)."""
        where_key = f"{keypath}.from"
        selection = spec["from"]
        each = selection.get("each") if isinstance(selection, Located) else None
        if not isinstance(each, str):
            self.error(spec, "from", where_key, "`from` is {each: <records or path>, where: "
                       "<condition>, occurs: one | at_most_one | one_or_more}")
            self.source.enter(None)
            return (lambda ctx, run: []), None, "at_most_one", where_key
        self.check_keys(selection, _FROM_KEYS, where_key)
        occurs = selection.get("occurs", "one")
        if occurs not in _FROM_OCCURS:
            self.error(selection, "occurs", f"{where_key}.occurs",
                       f"must be one of: {', '.join(_FROM_OCCURS)}")
            occurs = "one"
        items = self.compile_each(selection, where_key)
        self.source.enter(each)
        test = selection.get("where")
        if isinstance(test, Located) and "order_type" in test:
            self.error(test, "order_type", f"{where_key}.where.order_type",
                       "`from` selects by source values only; put an order_type test in "
                       "the rule's `when`")
        where = self.compile_condition(selection, "where", where_key)
        return items, where, occurs, where_key

    def check_kind(self, spec: Located, key: str, keypath: str, target: Target,
                   kind: str) -> Callable[[Any], Any] | None:
        """Check a rule's value fits its target; the final conversion step, if any."""
        is_name = target.model is PersonName and target.kind in ("model", "models")
        if kind == "name" and not is_name:
            self.error(spec, "transform", keypath,
                       f"split_name gives a person name, but {target.name} is not a name")
        elif is_name and kind != "name":
            self.error(spec, "path" if "path" in spec else "transform", keypath,
                       f"{target.name} is a person name: add a `split_name` transform or "
                       "map its parts (surname, given, middle, suffix)")
        elif target.kind in ("model", "models") and not is_name:
            self.error(spec, "path", keypath,
                       f"{target.name} is made of fields; map them under it")
        elif kind == "date" and target.kind not in ("date", "values"):
            self.error(spec, "transform", keypath,
                       f"a date transform gives a date, but {target.name} is a {target.kind}")
        elif kind == "datetime" and target.kind == "date":
            return lambda v: v.date().isoformat() if v is not None else None
        elif kind == "datetime" and target.kind != "datetime":
            self.error(spec, "transform", keypath, f"a datetime transform gives a date and "
                       f"time, but {target.name} is a {target.kind}")
        elif kind in ("int", "bool") and target.kind not in (kind, "str", "values"):
            self.error(spec, "transform", keypath,
                       f"the transforms give a {kind}, but {target.name} is a {target.kind}")
        if kind in ("date", "datetime"):
            return lambda v: v.isoformat() if v is not None else None
        return None

    # -- models and groups -----------------------------------------------------------
    def compile_node(self, spec: Located, model: type[BaseModel], keypath: str,
                     canonical: str, *, top: bool = False) -> Builder:
        """A builder for one canonical model from a mapping of its field names to rules."""
        fields = target_fields(model)
        entries: list[tuple[str, int, Any]] = []
        for key, value in spec.items():
            here = f"{keypath}.{key}"
            where = f"{canonical}{key}"
            if key == "when" and not top:
                continue
            target = fields.get(key)
            if target is None:
                self.error(spec, key, here, f"not a field of the canonical "
                           f"{model.__name__} (fields: {', '.join(fields)})")
                continue
            if target.kind == "models" or (target.kind == "values"):
                entries.append((key, GROUP, self.compile_group(spec, key, value, target,
                                                                here, where)))
            elif target.kind == "model" and not (isinstance(value, Located)
                                                 and any(k in value for k in _RULE_SOURCES)):
                if not isinstance(value, Located):
                    self.error(spec, key, here, f"{key} is made of fields; map them under it")
                    continue
                assert target.model is not None  # a "model" target always has its model
                entries.append((key, NODE, self.compile_node(value, target.model, here,
                                                              f"{where}.")))
            else:
                evaluator = self.compile_rule(spec, key, value, target, here, where)
                if top and key == "order_type":
                    entries.append((key, ORDER_TYPE, evaluator))
                elif isinstance(evaluator, PlainRead):
                    entries.append((key, READ, evaluator.read))
                else:
                    entries.append((key, LEAF, evaluator))
        for name, target in fields.items():
            if target.required and name not in spec:
                self.error(spec, "", keypath or "order", f"the canonical {model.__name__} "
                           f"requires {name!r}, and this mapping does not map it")
        entries.sort(key=lambda e: e[1] != ORDER_TYPE)
        when = None if top else self.compile_condition(spec, "when", keypath)
        return node_builder(tuple(entries), when)

    def compile_group(self, parent: Located, key: str, value: Any, target: Target,
                      keypath: str, canonical: str) -> Builder:
        """A builder for a list target from one group spec or a list of them."""
        specs = value if isinstance(value, LocatedList) else [value]
        compiled: list[tuple[Any, ...]] = []
        for index, spec in enumerate(specs):
            here = f"{keypath}[{index}]" if isinstance(value, LocatedList) else keypath
            holder = parent
            if not isinstance(spec, Located):
                self.error(holder, key, here, "a repeated group is a mapping with `each` "
                           "and `fields` (or `value`), or a list of them")
                continue
            self.check_keys(spec, _GROUP_KEYS, here)
            items = self.compile_each(spec, here)
            when = self.compile_condition(spec, "when", here)
            each = spec.get("each")
            self.source.enter(each if isinstance(each, str) else None)
            try:
                self.compile_group_item(spec, here, canonical, target, items, when, compiled)
            finally:
                self.source.leave()
        eaches = [spec.get("each") for spec in specs if isinstance(spec, Located)]
        described = ", ".join(repr(e) for e in eaches if isinstance(e, str)) or "one item"
        self.origin(canonical, f"repeated group (each {described})", parent.line_of(key))
        return group_builder(tuple(compiled))

    def compile_group_item(self, spec: Located, here: str, canonical: str, target: Target,
                           items: Any, when: Any, compiled: list[tuple[Any, ...]]) -> None:
        """The item part of one group spec, compiled where its items are the context."""
        where = self.compile_condition(spec, "where", here)
        item_path = f"{canonical}.*"
        if "fields" in spec and target.kind == "models":
            fields = spec["fields"]
            if not isinstance(fields, Located):
                self.error(spec, "fields", f"{here}.fields", "must map fields to rules")
                return
            assert target.model is not None  # a "models" target always has its model
            build = self.compile_node(fields, target.model, f"{here}.fields",
                                      f"{item_path}.")
            compiled.append((items, where, when, build, None))
        elif "value" in spec and "fields" not in spec:
            item_target = Target(target.name, target.kind, True, model=target.model,
                                 enum=target.enum, item_kind=target.item_kind)
            evaluator = self.compile_rule(spec, "value", spec["value"], item_target,
                                          f"{here}.value", item_path)
            compiled.append((items, where, when, None, evaluator))
        else:
            self.error(spec, "", here, "a repeated group of "
                       f"{'records' if target.kind == 'models' else 'values'} needs "
                       f"{'`fields`' if target.kind == 'models' else '`value`'}")

    def compile_each(self, spec: Located, keypath: str) -> Callable[[Any, Run], list[Any]]:
        each = spec.get("each")
        split = spec.get("split")
        if each is None:
            if split is not None:
                self.error(spec, "split", f"{keypath}.split", "`split` needs `each`")
            return lambda ctx, run: [ctx]
        if not isinstance(each, str):
            self.error(spec, "each", f"{keypath}.each", "must be a path")
            return lambda ctx, run: []
        if isinstance(self.source, CsvSource) and each == "rows":
            many: Callable[[Any, Run], list[Any]] = lambda ctx, run: run.doc.rows  # noqa: E731
        else:
            try:
                read = self.source.many(each)
            except PathInvalid as exc:
                self.error(spec, "each", f"{keypath}.each", f"path can never match: {exc}")
                return lambda ctx, run: []
            many = lambda ctx, run: read(ctx)  # noqa: E731
        if split is None:
            return many
        if not isinstance(split, str) or not split:
            self.error(spec, "split", f"{keypath}.split", "must be the separator text")
            return many

        def split_items(ctx: Any, run: Run) -> list[Any]:
            out: list[str] = []
            for value in many(ctx, run):
                try:
                    text = as_text(value)
                except ValueProblem:
                    continue
                out.extend(part.strip() for part in text.split(split) if part.strip())
            return out
        return split_items


def _selected(read: Callable[[Any], Any], items: Any, where: Any, occurs: str,
              rule: str) -> tuple[Callable[[Any], Any], bool]:
    """`read` applied to the item(s) a `from` selects, after checking how many there are;
    (getter, whether it gives a list: one value from each of one or more items)."""
    low, high, said = _FROM_OCCURS[occurs]

    def chosen(ctx: Any) -> list[Any]:
        found = [i for i in items(ctx, _SOURCE_ONLY_RUN)
                 if where is None or where(i, _SOURCE_ONLY_RUN)]
        if len(found) < low or (high is not None and len(found) > high):
            raise ValueProblem(f"{len(found)} source item(s) match; the mapping reads "
                               f"{said} ({rule})")
        return found

    if high is None:
        return (lambda ctx: [read(i) for i in chosen(ctx)]), True

    def read_one(ctx: Any) -> Any:
        found = chosen(ctx)
        return read(found[0]) if found else None
    return read_one, False


def compile_mapping(file: str, data: Located) -> CompiledMapping:
    """Compile a loaded mapping file, or raise one `MappingError` listing every problem."""
    compiler = _Compiler(file, data)
    compiled = compiler.compile()
    if compiler.reporter.errors:
        problems = sorted(compiler.reporter.errors)
        first_line, first_key, first_message = problems[0]
        exc = mapping_error(file, first_line, first_key, first_message)
        lines = [f"{file}:{line}: {key}: {message}" for line, key, message in problems]
        exc.args = ("\n".join(lines),)
        exc.problems = tuple(lines)  # type: ignore[attr-defined]
        raise exc
    return compiled
