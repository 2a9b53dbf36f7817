"""Turn a mapping file's data into small functions, checking everything once at load.

The compiler walks the mapping beside the canonical model (`engine.mappings.targets`):
each target key must be a field of the model, each path must be able to match, each code
a canonical code. Every problem found becomes one line of a `MappingError` naming file,
line and key. What comes out is a tree of closures (`Builder`) that reads one decoded
message into a dict in canonical intake shape, with no per-message look at the config.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel

from engine.errors import FieldError
from engine.mappings.sources import CsvSource, JsonSource, PathInvalid, Source, XmlSource
from engine.mappings.targets import Target, target_fields
from engine.mappings.transforms import (
    NAME_ORDERS,
    ValueProblem,
    as_text,
    feet_inches,
    join_values,
    parse_date,
    parse_datetime,
    split_name,
    to_int,
)
from engine.mappings.yamlsource import Located, LocatedList, mapping_error
from engine.model import Action, Order, OrderType, PersonName

__all__ = ["CompiledMapping", "Run", "compile_mapping"]

_TOP_KEYS = ("mapping", "name", "description", "source", "code_tables", "order")
_SOURCE_KEYS = {
    "json": ("format",),
    "xml": ("format", "namespaces"),
    "csv": ("format", "delimiter", "record", "encoding", "columns"),
}
_TABLE_KEYS = ("codes", "unknown", "ignore_case", "require", "description")
_RULE_KEYS = ("path", "paths", "const", "default", "transform", "table", "when")
_RULE_SOURCES = ("path", "paths", "const")
_GROUP_KEYS = ("each", "split", "where", "when", "fields", "value")
_CONDITION_KEYS = ("path", "present", "equals", "in", "not_in", "order_type")
_PLAIN_TRANSFORMS = ("strip", "upper", "lower", "int", "feet_inches")
_ARG_TRANSFORMS = ("split_name", "date", "datetime", "join", "regex", "bool")
_ENCODINGS = ("utf-8", "cp1252", "latin-1")
#: Canonical codes the model itself needs a table to be able to produce.
_MODEL_NEEDS: dict[type, tuple[str, ...]] = {
    Action: (Action.ISSUE.value,),  # version 1 of every order is an 'issue'
}

#: Reads one value for a target from a context; None when there is none.
Evaluator = Callable[[Any, "Run"], Any]
Condition = Callable[[Any, "Run"], bool]
#: Builds a canonical dict (or list) for a model (or group) from a context.
Builder = Callable[[Any, "Run", str], Any]


class Run:
    """The state of mapping one message: the document, the order type, problems found."""

    __slots__ = ("doc", "order_type", "problems")

    def __init__(self, doc: Any) -> None:
        self.doc = doc
        self.order_type: Any = None
        self.problems: list[FieldError] = []


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
        self.errors: list[tuple[int, str, str]] = []
        self.origins: dict[str, str] = {}
        self.tables: dict[str, Located] = {}
        self.table_uses: dict[tuple[str, str], Callable[[Any], Any]] = {}
        self.used_tables: set[str] = set()
        self.name = ""
        self.source: Source = JsonSource()

    # -- reporting -------------------------------------------------------------------
    def error(self, node: Located | LocatedList | None, key: str, keypath: str,
              message: str) -> None:
        if isinstance(node, Located):
            line = node.line_of(key.rsplit(".", 1)[-1])
        elif isinstance(node, LocatedList):
            line = node.line
        else:
            line = 0
        self.errors.append((line, keypath, message))

    def check_keys(self, node: Located, allowed: tuple[str, ...], keypath: str) -> None:
        for key in node:
            if key not in allowed:
                self.error(node, key, f"{keypath}.{key}" if keypath else key,
                           f"unknown key; expected one of: {', '.join(allowed)}")

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
        tables = data.get("code_tables")
        if tables is not None:
            if isinstance(tables, Located):
                for table_name, table in tables.items():
                    self.check_table(tables, table_name, table)
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
        for table_name in self.tables:
            if table_name not in self.used_tables:
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
            self.error(spec, "format", "source.format", "must be one of: json, xml, csv")
            return JsonSource()
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
        return CsvSource(delimiter=delimiter, record=record, encoding=encoding,
                         columns=tuple(columns) if columns is not None else None)

    # -- code tables -----------------------------------------------------------------
    def check_table(self, tables: Located, name: str, table: Any) -> None:
        keypath = f"code_tables.{name}"
        if not isinstance(table, Located):
            self.error(tables, name, keypath, "a code table is a mapping with `codes`")
            return
        self.check_keys(table, _TABLE_KEYS, keypath)
        codes = table.get("codes")
        if not isinstance(codes, Located) or not codes:
            self.error(table, "codes", f"{keypath}.codes",
                       "must map court codes to canonical codes")
            return
        unknown = table.get("unknown")
        if unknown is None:
            self.error(table, "unknown", f"{keypath}.unknown",
                       "say what an unknown court code does: `unknown: reject` or "
                       "`unknown: {default: <canonical code>}`")
        elif unknown != "reject" and not (isinstance(unknown, Located)
                                          and set(unknown) == {"default"}):
            self.error(table, "unknown", f"{keypath}.unknown",
                       "must be `reject` or `{default: <canonical code>}`")
        if table.get("ignore_case") not in (None, "true", "false"):
            self.error(table, "ignore_case", f"{keypath}.ignore_case", "must be true or false")
        require = table.get("require")
        if require is not None and require != "all" and not isinstance(require, LocatedList):
            self.error(table, "require", f"{keypath}.require",
                       "must be `all` or a list of canonical codes")
        self.tables[name] = table

    def table_lookup(self, name: str, target: Target, rule: Located, keypath: str,
                     convert: Callable[[str], Any]) -> Callable[[Any], Any] | None:
        """The lookup function of table `name` for one kind of target, checked once."""
        self.used_tables.add(name)
        table = self.tables.get(name)
        if table is None:
            self.error(rule, "table", f"{keypath}.table",
                       f"no code table named {name!r} in code_tables")
            return None
        cache_key = (name, f"{target.kind}:{target.enum}")
        if cache_key in self.table_uses:
            return self.table_uses[cache_key]
        tpath = f"code_tables.{name}"
        codes: Located = table["codes"]
        ignore_case = table.get("ignore_case") == "true"
        converted: dict[str, Any] = {}
        for code, canonical in codes.items():
            try:
                value = convert(canonical)
            except ValueError as exc:
                self.error(codes, code, f"{tpath}.codes.{code}", f"{exc} (used by {keypath})")
                continue
            converted[code.strip().upper() if ignore_case else code.strip()] = value
        default: Any = None
        reject = table.get("unknown") == "reject"
        unknown = table.get("unknown")
        if isinstance(unknown, Located):
            try:
                default = convert(unknown["default"])
            except ValueError as exc:
                self.error(unknown, "default", f"{tpath}.unknown.default",
                           f"{exc} (used by {keypath})")
        if target.enum is not None:
            produced = {str(v) for v in converted.values()}
            needed: tuple[str, ...] = _MODEL_NEEDS.get(target.enum, ())
            require = table.get("require")
            if require == "all":
                needed = tuple(e.value for e in target.enum)
            elif isinstance(require, LocatedList):
                for item in require:
                    try:
                        convert(item)
                    except ValueError as exc:
                        self.error(table, "require", f"{tpath}.require", str(exc))
                needed = (*needed, *(r for r in require if isinstance(r, str)))
            missing = [c for c in dict.fromkeys(needed) if c not in produced]
            if missing:
                self.error(table, "codes", f"{tpath}.codes",
                           f"no court code maps to canonical {target.name} "
                           f"{', '.join(missing)}, which the canonical model needs "
                           f"(used by {keypath})")

        def lookup(value: Any) -> Any:
            code = value.strip() if value.__class__ is str else as_text(value).strip()
            if ignore_case:
                code = code.upper()
            found = converted.get(code)
            if found is not None:
                return found
            if reject:
                raise ValueProblem(f"a court code not in code table {name!r} "
                                   "(the table rejects unknown codes)")
            return default

        self.table_uses[cache_key] = lookup
        return lookup

    # -- constants -------------------------------------------------------------------
    @staticmethod
    def converter(target: Target) -> Callable[[str], Any]:
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

    # -- conditions ------------------------------------------------------------------
    def compile_condition(self, parent: Located, key: str, keypath: str) -> Condition | None:
        spec = parent.get(key)
        if spec is None:
            return None
        keypath = f"{keypath}.{key}"
        if not isinstance(spec, Located) or not spec:
            self.error(parent, key, keypath,
                       "a condition is a mapping, e.g. `{path: X, equals: Y}` or "
                       "`{order_type: [dv_tro]}`")
            return None
        self.check_keys(spec, _CONDITION_KEYS, keypath)
        checks: list[Condition] = []
        path = spec.get("path")
        if path is not None:
            get = self.getter(spec, "path", path, keypath)
            equals, one_of, none_of = spec.get("equals"), spec.get("in"), spec.get("not_in")
            present = spec.get("present", "true")
            if present not in ("true", "false"):
                self.error(spec, "present", f"{keypath}.present", "must be true or false")
            for list_key, values in (("in", one_of), ("not_in", none_of)):
                if values is not None and not isinstance(values, LocatedList):
                    self.error(spec, list_key, f"{keypath}.{list_key}", "must be a list")
            wanted = frozenset(one_of) if isinstance(one_of, LocatedList) else None
            unwanted = frozenset(none_of) if isinstance(none_of, LocatedList) else frozenset()
            if isinstance(equals, str):
                wanted = frozenset({equals})
            if present == "false":
                checks.append(lambda ctx, run: get(ctx) is None)
            else:
                def source_check(ctx: Any, run: Run) -> bool:
                    value = get(ctx)
                    if value is None:
                        return False
                    if value.__class__ is str:
                        text = value.strip()
                    else:
                        try:
                            text = as_text(value).strip()
                        except ValueProblem:
                            return False
                    return (wanted is None or text in wanted) and text not in unwanted
                checks.append(source_check)
        elif any(k in spec for k in ("present", "equals", "in", "not_in")):
            self.error(spec, next(iter(spec)), keypath, "a source test needs a `path`")
        order_types = spec.get("order_type")
        if order_types is not None:
            items = [order_types] if isinstance(order_types, str) else order_types
            allowed = {t.value for t in OrderType}
            if not isinstance(items, list) or any(i not in allowed for i in items):
                self.error(spec, "order_type", f"{keypath}.order_type",
                           f"must be canonical order types (one of: {', '.join(sorted(allowed))})")
            else:
                types_wanted = frozenset(OrderType(i) for i in items)
                checks.append(lambda ctx, run: run.order_type in types_wanted)
        if not checks:
            return None
        if len(checks) == 1:
            return checks[0]
        return lambda ctx, run: all(check(ctx, run) for check in checks)

    def getter(self, node: Located, key: str, path: Any, keypath: str) -> Callable[[Any], Any]:
        if not isinstance(path, str):
            self.error(node, key, f"{keypath}.{key}", "a path is one line of text")
            return lambda ctx: None
        try:
            return self.source.getter(path)
        except PathInvalid as exc:
            self.error(node, key, f"{keypath}.{key}", f"path can never match: {exc}")
            return lambda ctx: None

    # -- transforms ------------------------------------------------------------------
    def compile_transform(self, step: Any, steps: LocatedList, index: int, keypath: str,
                          kind: str) -> tuple[Callable[[Any], Any] | None, str]:
        """One transform step: (function, kind of value it gives)."""
        where = f"{keypath}.transform[{index}]"
        line_holder = LocatedList(steps.item_lines[index])
        if isinstance(step, str):
            name, arg = step, None
        elif isinstance(step, Located) and len(step) == 1:
            name, arg = next(iter(step.items()))
        else:
            self.error(line_holder, "", where,
                       "a transform is a name (`upper`) or one `name: setting` pair")
            return None, kind
        if name not in _PLAIN_TRANSFORMS + _ARG_TRANSFORMS:
            self.error(line_holder, "", where, f"unknown transform {name!r}; known: "
                       f"{', '.join(_PLAIN_TRANSFORMS + _ARG_TRANSFORMS)}")
            return None, kind
        if name in _PLAIN_TRANSFORMS and arg is not None:
            self.error(line_holder, "", where, f"transform {name!r} takes no setting")
            return None, kind
        if name != "join" and kind == "list":
            self.error(line_holder, "", where, f"{name!r} needs one value; `paths` gives "
                       "several: put a `join` first")
            return None, kind
        if name != "join" and kind not in ("text",):
            self.error(line_holder, "", where, f"{name!r} needs text, but the value is "
                       f"already a {kind}")
            return None, kind
        if name == "strip":
            return (lambda v: as_text(v).strip() or None), "text"
        if name == "upper":
            return (lambda v: as_text(v).upper()), "text"
        if name == "lower":
            return (lambda v: as_text(v).lower()), "text"
        if name == "int":
            return (lambda v: to_int(as_text(v))), "int"
        if name == "feet_inches":
            return (lambda v: feet_inches(as_text(v))), "int"
        if name == "split_name":
            if arg not in NAME_ORDERS:
                self.error(line_holder, "", where, f"split_name takes one of: "
                           f"{', '.join(NAME_ORDERS)}")
                return None, kind
            return (lambda v, order=arg: split_name(as_text(v), order)), "name"
        if name == "date":
            fmt = self.format_arg(arg, line_holder, where, "date")
            if fmt is None:
                return None, kind
            return (lambda v: parse_date(as_text(v), fmt)), "date"
        if name == "datetime":
            return self.datetime_transform(arg, line_holder, where)
        if name == "join":
            if not isinstance(arg, str):
                self.error(line_holder, "", where, "join takes the separator text, e.g. ' '")
                return None, kind
            return (lambda v, sep=arg: join_values(v, sep)), "text"
        if name == "regex":
            return self.regex_transform(arg, line_holder, where)
        return self.bool_transform(arg, line_holder, where)

    def format_arg(self, arg: Any, holder: LocatedList, where: str, name: str) -> str | None:
        if not isinstance(arg, str) or "%" not in arg:
            self.error(holder, "", where, f"{name} takes a strptime format, e.g. '%m/%d/%Y'")
            return None
        return arg

    def datetime_transform(self, arg: Any, holder: LocatedList,
                           where: str) -> tuple[Callable[[Any], Any] | None, str]:
        if not isinstance(arg, Located) or set(arg) - {"format", "tz"}:
            self.error(holder, "", where,
                       "datetime takes {format: '<strptime format>', tz: <IANA zone>}")
            return None, "text"
        fmt = self.format_arg(arg.get("format"), holder, where, "datetime")
        if fmt is None:
            return None, "text"
        zone = None
        if arg.get("tz") is not None:
            try:
                zone = ZoneInfo(arg["tz"])
            except (ZoneInfoNotFoundError, ValueError):
                self.error(arg, "tz", f"{where}.tz", "not an IANA time zone name "
                           "(e.g. America/Los_Angeles)")
                return None, "text"
        elif "%z" not in fmt:
            self.error(holder, "", where, "a format without %z needs `tz` "
                       "(the court's time zone, e.g. America/Los_Angeles)")
            return None, "text"
        return (lambda v: parse_datetime(as_text(v), fmt, zone)), "datetime"

    def regex_transform(self, arg: Any, holder: LocatedList,
                        where: str) -> tuple[Callable[[Any], Any] | None, str]:
        arg_pattern: Any
        group: Any
        if isinstance(arg, str):
            arg_pattern, group = arg, "1"
        elif isinstance(arg, Located) and not set(arg) - {"pattern", "group"}:
            arg_pattern, group = arg.get("pattern"), arg.get("group", "1")
        else:
            self.error(holder, "", where, "regex takes a pattern or {pattern, group}")
            return None, "text"
        try:
            compiled = re.compile(arg_pattern)
            group_number = int(group)
        except (re.error, TypeError, ValueError) as exc:
            self.error(holder, "", where, f"not a usable regular expression: {exc}")
            return None, "text"
        if group_number > compiled.groups:
            self.error(holder, "", where, f"the pattern has {compiled.groups} group(s), "
                       f"not {group_number}")
            return None, "text"

        def extract(value: Any) -> Any:
            match = compiled.search(as_text(value))
            return match.group(group_number) if match else None
        return extract, "text"

    def bool_transform(self, arg: Any, holder: LocatedList,
                       where: str) -> tuple[Callable[[Any], Any] | None, str]:
        if not (isinstance(arg, Located) and set(arg) == {"true", "false"}
                and all(isinstance(v, LocatedList) for v in arg.values())):
            self.error(holder, "", where, "bool takes {true: [codes], false: [codes]}")
            return None, "text"
        yes = frozenset(str(v).upper() for v in arg["true"])
        no = frozenset(str(v).upper() for v in arg["false"])

        def to_bool(value: Any) -> bool:
            code = as_text(value).strip().upper()
            if code in yes:
                return True
            if code in no:
                return False
            raise ValueProblem("is neither a true nor a false code of the bool transform")
        return to_bool, "bool"

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
        convert = self.converter(target)
        when = self.compile_condition(spec, "when", keypath)
        default = None
        if spec.get("default") is not None:
            try:
                default = convert(spec["default"])
            except ValueError as exc:
                self.error(spec, "default", f"{keypath}.default", str(exc))

        if "const" in spec:
            for extra in ("transform", "table", "default"):
                if extra in spec:
                    self.error(spec, extra, f"{keypath}.{extra}",
                               "a constant takes no transform, table or default")
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
        if "path" in spec:
            read = self.getter(spec, "path", spec["path"], keypath)
            what = f"path {spec['path']!r}"
        else:
            paths = spec["paths"]
            if not isinstance(paths, LocatedList) or not paths:
                self.error(spec, "paths", f"{keypath}.paths", "must be a list of paths")
                return lambda ctx, run: None
            getters = [self.getter(spec, "paths", p, keypath) for p in paths]
            read = lambda ctx: [g(ctx) for g in getters]  # noqa: E731
            kind = "list"
            what = f"paths {', '.join(repr(p) for p in paths)}"
        self.origin(canonical, what, spec.line_of("path" if "path" in spec else "paths"))

        steps: list[Callable[[Any], Any]] = []
        transform = spec.get("transform")
        if transform is not None:
            if not isinstance(transform, LocatedList):
                self.error(spec, "transform", f"{keypath}.transform",
                           "must be a list of transforms")
            else:
                for index, step in enumerate(transform):
                    fn, kind = self.compile_transform(step, transform, index, keypath, kind)
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
                lookup = self.table_lookup(spec["table"], target, spec, keypath, convert)
                kind = "code"
        finish = self.check_kind(spec, key, keypath, target, kind)
        if finish is not None:
            steps.append(finish)
        if lookup is not None:
            steps.append(lookup)
        if not steps and when is None and default is None:
            return _PlainRead(read)
        return _leaf(read, tuple(steps), default, when)

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
                entries.append((key, _GROUP, self.compile_group(spec, key, value, target,
                                                                here, where)))
            elif target.kind == "model" and not (isinstance(value, Located)
                                                 and any(k in value for k in _RULE_SOURCES)):
                if not isinstance(value, Located):
                    self.error(spec, key, here, f"{key} is made of fields; map them under it")
                    continue
                assert target.model is not None  # a "model" target always has its model
                entries.append((key, _NODE, self.compile_node(value, target.model, here,
                                                              f"{where}.")))
            else:
                evaluator = self.compile_rule(spec, key, value, target, here, where)
                if top and key == "order_type":
                    entries.append((key, _ORDER_TYPE, evaluator))
                elif isinstance(evaluator, _PlainRead):
                    entries.append((key, _READ, evaluator.read))
                else:
                    entries.append((key, _LEAF, evaluator))
        for name, target in fields.items():
            if target.required and name not in spec:
                self.error(spec, "", keypath or "order", f"the canonical {model.__name__} "
                           f"requires {name!r}, and this mapping does not map it")
        entries.sort(key=lambda e: e[1] != _ORDER_TYPE)
        when = None if top else self.compile_condition(spec, "when", keypath)
        return _node(tuple(entries), when)

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
            where = self.compile_condition(spec, "where", here)
            when = self.compile_condition(spec, "when", here)
            item_path = f"{canonical}.*"
            if "fields" in spec and target.kind == "models":
                fields = spec["fields"]
                if not isinstance(fields, Located):
                    self.error(spec, "fields", f"{here}.fields", "must map fields to rules")
                    continue
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
        self.origin(canonical, "repeated group", parent.line_of(key))
        return _group(tuple(compiled))

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


_READ, _LEAF, _ORDER_TYPE, _NODE, _GROUP = range(5)


class _PlainRead:
    """A rule that only reads a path: the node calls `read` directly (the hot path)."""

    __slots__ = ("read",)

    def __init__(self, read: Callable[[Any], Any]) -> None:
        self.read = read

    def __call__(self, ctx: Any, run: Run) -> Any:
        return self.read(ctx)


def _leaf(read: Callable[[Any], Any], steps: tuple[Callable[[Any], Any], ...], default: Any,
          when: Condition | None) -> Evaluator:
    if when is None and default is None and len(steps) == 1:
        step = steps[0]

        def one_step(ctx: Any, run: Run) -> Any:
            value = read(ctx)
            return None if value is None else step(value)
        return one_step

    def evaluate(ctx: Any, run: Run) -> Any:
        if when is not None and not when(ctx, run):
            return None
        value = read(ctx)
        if value is None:
            return default
        for step in steps:
            value = step(value)
            if value is None:
                return default
        return value
    return evaluate


def _node(entries: tuple[tuple[str, int, Any], ...], when: Condition | None) -> Builder:
    # Plain reads are most of any mapping: they get their own tight loop.
    reads = tuple((key, fn) for key, kind, fn in entries if kind is _READ)
    others = tuple(e for e in entries if e[1] is not _READ)

    def build(ctx: Any, run: Run, prefix: str) -> dict[str, Any] | None:
        if when is not None and not when(ctx, run):
            return None
        out: dict[str, Any] = {}
        for key, kind, fn in others:
            if kind is _LEAF:
                try:
                    value = fn(ctx, run)
                except ValueProblem as problem:
                    run.problems.append(FieldError(prefix + key, str(problem)))
                    continue
                if value is not None:
                    out[key] = value
            elif kind is _ORDER_TYPE:
                try:
                    value = fn(ctx, run)
                except ValueProblem as problem:
                    run.problems.append(FieldError(prefix + key, str(problem)))
                    continue
                try:
                    run.order_type = OrderType(value)
                except ValueError:
                    run.order_type = None
                if value is not None:
                    out[key] = value
            elif kind is _GROUP:  # always set: an empty list is reported as too short
                out[key] = fn(ctx, run, f"{prefix}{key}.")
            else:
                value = fn(ctx, run, f"{prefix}{key}.")
                if value:
                    out[key] = value
        for key, read in reads:
            value = read(ctx)
            if value is not None:
                out[key] = value
        return out
    return build


def _group(specs: tuple[tuple[Any, ...], ...]) -> Builder:
    def build(ctx: Any, run: Run, prefix: str) -> list[Any]:
        out: list[Any] = []
        for items, where, when, build_item, evaluate in specs:
            if when is not None and not when(ctx, run):
                continue
            for item in items(ctx, run):
                if where is not None and not where(item, run):
                    continue
                if build_item is not None:
                    built = build_item(item, run, f"{prefix}{len(out)}.")
                    if built is not None:
                        out.append(built)
                    continue
                try:
                    value = evaluate(item, run)
                except ValueProblem as problem:
                    run.problems.append(FieldError(f"{prefix}{len(out)}", str(problem)))
                    out.append(None)
                    continue
                if value is not None:
                    out.append(value)
        return out
    return build


def compile_mapping(file: str, data: Located) -> CompiledMapping:
    """Compile a loaded mapping file, or raise one `MappingError` listing every problem."""
    compiler = _Compiler(file, data)
    compiled = compiler.compile()
    if compiler.errors:
        problems = sorted(compiler.errors)
        first_line, first_key, first_message = problems[0]
        exc = mapping_error(file, first_line, first_key, first_message)
        lines = [f"{file}:{line}: {key}: {message}" for line, key, message in problems]
        exc.args = ("\n".join(lines),)
        exc.problems = tuple(lines)  # type: ignore[attr-defined]
        raise exc
    return compiled
