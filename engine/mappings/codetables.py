"""Code tables: a court's own codes turned into canonical codes, checked once at load.

Each table says what an unknown court code does (``reject`` or ``default``); each use of a
table is checked against its target (every canonical value must be one the model accepts,
and the codes the table must reach, ``require`` and the model's own needs, must be there).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.mappings.reporter import Reporter
from engine.mappings.targets import Target
from engine.mappings.transforms import ValueProblem, as_text
from engine.mappings.yamlsource import Located, LocatedList
from engine.model import DEPRECATED_RACES, Action

__all__ = ["CodeTables"]

_TABLE_KEYS = ("codes", "unknown", "ignore_case", "require", "description")
#: Canonical codes the model itself needs a table to be able to produce.
_MODEL_NEEDS: dict[type, tuple[str, ...]] = {
    Action: (Action.ISSUE.value,),  # version 1 of every order is an 'issue'
}


class CodeTables:
    """The mapping's code tables, checked; `lookup` gives a table's function for a target."""

    def __init__(self, reporter: Reporter) -> None:
        self.error = reporter.error
        self.check_keys = reporter.check_keys
        self.tables: dict[str, Located] = {}
        self.table_uses: dict[tuple[str, str], Callable[[Any], Any]] = {}
        self.used_tables: set[str] = set()

    def add(self, tables: Located, name: str, table: Any) -> None:
        """Check one table's own keys and remember it for the rules that use it."""
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

    def lookup(self, name: str, target: Target, rule: Located, keypath: str,
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
                # A deprecated word (read, never sent as a code) is never required.
                needed = tuple(e.value for e in target.enum if e not in DEPRECATED_RACES)
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

