"""Run a mapping's example cases the way Benthos runs config tests, and explain failures.

A mapping folder holds ``mapping.yaml`` and ``tests/`` with, per case:

- ``<case>.input.<any extension>``: a message as the court's CMS sends it;
- ``<case>.expected.json``: the canonical order it must map to, or
  ``<case>.expected-error.json``: the refusal it must cause, ``{"error": <kind>}`` with what
  says *why*: ``fields`` (OrderInvalid: exactly the canonical fields at fault), ``message``
  (a fragment of the error text), ``rule`` / ``line`` (StructureError); other keys refused;
- optionally ``<case>.expected-niem.xml`` / ``<case>.expected-clets.txt``: the outbound
  messages, compared when this build has that renderer (``engine.niem.render_niem``,
  ``engine.clets.render_clets``); otherwise the case says it was not compared;
- optionally ``<case>.case.json``: ``render_context`` (``mcn``, ``sent_at``,
  ``doj_record_id`` for the pinned outputs) and ``all_columns_read: true`` (the case fails
  while the mapping leaves a source column unread and not ignored).

A mapping with declared columns (record exports, CSV with ``columns``) also gets a
``(coverage)`` line naming every column it never reads.

A mismatch is shown as the canonical field paths that differ and a unified diff.
"""

from __future__ import annotations

import datetime as dt
import difflib
import importlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.canonical import decode_order, order_to_dict
from engine.errors import DecodeError, InputError, MappingError, OrderInvalid
from engine.formats import RenderContext
from engine.mappings.mapping import Mapping, load_mapping
from engine.model import Action, Order

__all__ = [
    "CaseResult",
    "discover_mapping_dirs",
    "field_differences",
    "run_mapping_dir",
    "run_mapping_tests",
]

#: The record id of the entry's acknowledgement in pinned outputs of later versions: upper-
#: case letters only, so it fits every renderer's record id (CLETS NIC: 15 alphanumerics).
TEST_RECORD_ID = "TESTRECORD"
_ERROR_KEYS = frozenset({"error", "fields", "message", "rule", "line"})
_CASE_KEYS = frozenset({"render_context", "all_columns_read"})
_CONTEXT_KEYS = frozenset({"mcn", "sent_at", "doj_record_id"})
#: Outbound formats a case may pin: (file suffix, module, renderer function name).
_RENDERERS = (
    ("niem", ".expected-niem.xml", "engine.niem", "render_niem"),
    ("clets", ".expected-clets.txt", "engine.clets", "render_clets"),
)


@dataclass(frozen=True, slots=True)
class CaseResult:
    """The outcome of one case: PASS, FAIL, or ERROR (the mapping itself did not load)."""

    mapping: str
    case: str
    status: str
    details: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.status == "PASS"


def discover_mapping_dirs(paths: Iterable[Path]) -> list[Path]:
    """Mapping folders: each path that holds a mapping.yaml, or every one beneath it."""
    found: list[Path] = []
    for path in paths:
        if (path / "mapping.yaml").is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(sorted(p.parent for p in path.rglob("mapping.yaml")))
        else:
            found.append(path)  # reported as an error by run_mapping_dir
    return list(dict.fromkeys(found))


def field_differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Canonical paths where two JSON values differ, each with how it differs."""
    where = path or "(order)"
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = []
        for key in list(dict.fromkeys([*expected, *actual])):
            sub = f"{path}.{key}" if path else key
            if key not in actual:
                out.append(f"{sub}: expected, but the mapping gave none")
            elif key not in expected:
                out.append(f"{sub}: the mapping gave a value the expected order does not have")
            else:
                out.extend(field_differences(expected[key], actual[key], sub))
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        out = []
        for i, (e, a) in enumerate(zip(expected, actual, strict=False)):
            out.extend(field_differences(e, a, f"{path}.{i}"))
        if len(expected) != len(actual):
            out.append(f"{where}: expected {len(expected)} item(s), the mapping gave "
                       f"{len(actual)}")
        return out
    if expected != actual:
        return [f"{where}: differs"]
    return []


def _pretty(data: Any) -> list[str]:
    return json.dumps(data, indent=2, ensure_ascii=False).splitlines(keepends=True)


def _case_settings(tests_dir: Path, case: str) -> dict[str, Any]:
    """``<case>.case.json``, checked: unknown keys are a mistake, not a silent no-op."""
    case_file = tests_dir / f"{case}.case.json"
    if not case_file.is_file():
        return {}
    settings = json.loads(case_file.read_text(encoding="utf-8"))
    if not isinstance(settings, dict):
        raise ValueError(f"{case_file.name} must be a JSON object")
    unknown = sorted(set(settings) - _CASE_KEYS)
    if unknown:
        raise ValueError(f"{case_file.name}: unknown key(s) {', '.join(unknown)}; expected "
                         f"one of: {', '.join(sorted(_CASE_KEYS))}")
    return settings


def _render_context(tests_dir: Path, case: str, order: Order) -> RenderContext:
    """The transmission facts a pinned NIEM/CLETS output was made with: the case's
    ``render_context``, else the folder's ``render-context.json``, else the defaults."""
    settings: dict[str, Any] = _case_settings(tests_dir, case).get("render_context") or {}
    context_file = tests_dir / "render-context.json"
    if not settings and context_file.is_file():
        settings = json.loads(context_file.read_text(encoding="utf-8"))
    if not isinstance(settings, dict) or set(settings) - _CONTEXT_KEYS:
        raise ValueError(f"a render context is an object of {', '.join(sorted(_CONTEXT_KEYS))}")
    sent_at = settings.get("sent_at")
    # Message control numbers are letters, digits and '-', at most 36 (schemas/clets-layout).
    default_mcn = "TEST-" + re.sub(r"[^A-Za-z0-9]+", "-", case)[:31]
    return RenderContext(
        mcn=settings.get("mcn", default_mcn),
        sent_at=dt.datetime.fromisoformat(sent_at) if sent_at else order.issued_at,
        doj_record_id=settings.get("doj_record_id",
                                   None if order.action is Action.ISSUE else TEST_RECORD_ID),
    )


def _renderer(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def _check_outputs(tests_dir: Path, case: str, order: Order, *,
                   update: bool) -> tuple[list[str], list[str]]:
    """(failures, notes) from the pinned NIEM/CLETS outputs of one case; with `update`,
    rewrite each pinned file from the renderer instead (after a deliberate format change)."""
    failures: list[str] = []
    notes: list[str] = []
    for label, suffix, module, name in _RENDERERS:
        expected_file = tests_dir / f"{case}{suffix}"
        if not expected_file.is_file():
            continue
        render = _renderer(module, name)
        if render is None:
            notes.append(f"{expected_file.name} not compared: {module}.{name} is not "
                         "available in this build")
            continue
        try:
            context = _render_context(tests_dir, case, order)
        except (ValueError, TypeError, AttributeError) as exc:
            failures.append(f"{label}: tests/{case}.case.json or tests/render-context.json "
                            f"is not usable: {exc}")
            continue
        try:
            rendered = render(order, context)
        except Exception as exc:  # any renderer fault is this case's failure, reported
            failures.append(f"{label}: rendering failed: {type(exc).__name__}: {exc}")
            continue
        if update:
            if expected_file.read_bytes() != rendered.body:
                expected_file.write_bytes(rendered.body)
                notes.append(f"{expected_file.name} updated from {module}.{name}")
            continue
        expected = expected_file.read_text(encoding="utf-8").splitlines(keepends=True)
        actual = rendered.body.decode("utf-8", "replace").splitlines(keepends=True)
        if [s.rstrip() for s in expected] != [s.rstrip() for s in actual]:
            failures.append(f"{label}: rendered message differs from {expected_file.name}")
            failures.extend(line.rstrip("\n") for line in difflib.unified_diff(
                expected, actual, fromfile=str(expected_file), tofile=f"rendered {label}"))
    return failures, notes


def _run_case(mapping: Mapping, tests_dir: Path, case: str, input_file: Path, *,
              update_rendered: bool) -> CaseResult:
    label = tests_dir.parent.name
    try:
        settings = _case_settings(tests_dir, case)
    except ValueError as exc:
        return CaseResult(label, case, "FAIL", (str(exc),))
    coverage: list[str] = []
    if settings.get("all_columns_read") is True:
        unread = mapping.unread_columns()
        if unread:
            coverage.append("the case requires every source column read, but the mapping "
                            f"never reads: {', '.join(unread)}")
    result = _run_case_itself(mapping, tests_dir, case, input_file,
                              update_rendered=update_rendered)
    if coverage:
        return CaseResult(label, case, "FAIL", (*coverage, *result.details), result.notes)
    return result


def _run_case_itself(mapping: Mapping, tests_dir: Path, case: str, input_file: Path, *,
                     update_rendered: bool) -> CaseResult:
    label = tests_dir.parent.name
    expected_file = tests_dir / f"{case}.expected.json"
    error_file = tests_dir / f"{case}.expected-error.json"
    if not expected_file.is_file() and not error_file.is_file():
        return CaseResult(label, case, "FAIL", (f"no {expected_file.name} or "
                                                f"{error_file.name} beside the input",))
    try:
        order: Order | None = mapping.apply(input_file.read_bytes())
        error: InputError | None = None
    except InputError as exc:
        order, error = None, exc

    if error_file.is_file():
        return _compare_error(label, case, error_file, error)
    if error is not None:
        lines = [f"expected an order, but the mapping refused the message: "
                 f"{type(error).__name__}"]
        if isinstance(error, OrderInvalid):
            lines.extend(f"  {e.path}: {e.reason}" for e in error.errors)
        else:
            lines.append(f"  {error}")
        return CaseResult(label, case, "FAIL", tuple(lines))
    assert order is not None
    try:
        expected = order_to_dict(decode_order(expected_file.read_bytes()))
    except InputError as exc:
        return CaseResult(label, case, "FAIL",
                          (f"{expected_file.name} is not a valid canonical order: {exc}",))
    actual = order_to_dict(order)
    failures: list[str] = []
    if expected != actual:
        failures.extend(field_differences(expected, actual))
        failures.extend(line.rstrip("\n") for line in difflib.unified_diff(
            _pretty(expected), _pretty(actual), fromfile=str(expected_file),
            tofile=f"mapped from {input_file.name}"))
    render_failures, notes = _check_outputs(tests_dir, case, order, update=update_rendered)
    failures.extend(render_failures)
    return CaseResult(label, case, "FAIL" if failures else "PASS", tuple(failures),
                      tuple(notes))


def _compare_error(label: str, case: str, error_file: Path,
                   error: InputError | None) -> CaseResult:
    try:
        spec = json.loads(error_file.read_text(encoding="utf-8"))
        if not isinstance(spec, dict):
            raise TypeError("not a JSON object")
        unknown = sorted(set(spec) - _ERROR_KEYS)
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(unknown)}; expected: "
                             f"{', '.join(sorted(_ERROR_KEYS))}")
        wanted_type = spec["error"]
        wanted_fields = sorted(spec["fields"]) if "fields" in spec else None
        if not isinstance(wanted_type, str):
            raise TypeError("`error` is the error kind's name, e.g. StructureError")
    except (ValueError, KeyError, TypeError) as exc:
        return CaseResult(label, case, "FAIL", (f"{error_file.name} must be "
                          f'{{"error": <kind>, "fields"|"message"|"rule"|"line": ...}}: '
                          f"{exc}",))
    if error is None:
        return CaseResult(label, case, "FAIL", (f"expected {wanted_type}, but the message "
                                                "mapped to a valid order",))
    problems = []
    if type(error).__name__ != wanted_type:
        problems.append(f"expected {wanted_type}, got {type(error).__name__}: {error}")
    if isinstance(error, OrderInvalid):
        got = sorted({e.path for e in error.errors})
        if wanted_fields is not None and got != wanted_fields:
            problems.append(f"expected errors at {wanted_fields}, got them at {got}")
            problems.extend(f"  {e.path}: {e.reason}" for e in error.errors)
    elif isinstance(error, DecodeError) and wanted_fields:
        problems.append(f"a {type(error).__name__} has no fields; expected {wanted_fields}")
    fragment = spec.get("message")
    if fragment is not None and str(fragment) not in str(error):
        problems.append(f"expected the error to say {fragment!r}; it says: {error}")
    for key in ("rule", "line"):
        if key in spec and str(getattr(error, key, None)) != str(spec[key]):
            problems.append(f"expected {key} {spec[key]!r}, got "
                            f"{getattr(error, key, None)!r}: {error}")
    if not problems and wanted_fields is None and fragment is None and "rule" not in spec:
        problems.append(f"{error_file.name} says only the error kind; add `fields`, "
                        "`message` or `rule` so the case fails when the message is refused "
                        "for another reason")
    return CaseResult(label, case, "FAIL" if problems else "PASS", tuple(problems))


def run_mapping_dir(folder: Path, *, update_rendered: bool = False) -> list[CaseResult]:
    """Every case of one mapping folder, in name order (`update_rendered`: see
    `_check_outputs`; the canonical expected outputs are never rewritten)."""
    label = folder.name
    mapping_file = folder / "mapping.yaml"
    if not mapping_file.is_file():
        return [CaseResult(label, "(mapping)", "ERROR", (f"no mapping.yaml in {folder}",))]
    try:
        mapping = load_mapping(mapping_file)
    except MappingError as exc:
        return [CaseResult(label, "(mapping)", "ERROR", tuple(str(exc).splitlines()))]
    tests_dir = folder / "tests"
    inputs = sorted(p for p in tests_dir.glob("*.input.*")
                    if p.is_file() and not p.name.startswith("."))
    if not inputs:
        return [CaseResult(label, "(tests)", "FAIL",
                           (f"no <case>.input.<ext> files in {tests_dir}",))]
    results = []
    for input_file in inputs:
        case = input_file.name.split(".input.", 1)[0]
        results.append(_run_case(mapping, tests_dir, case, input_file,
                                 update_rendered=update_rendered))
    unread = mapping.unread_columns()
    if unread is not None:
        note = (f"unread columns (neither read nor in `ignore`): {', '.join(unread)}"
                if unread else "every source column is read or ignored on purpose")
        results.append(CaseResult(label, "(coverage)", "PASS", (), (note,)))
    return results


def run_mapping_tests(folders: Iterable[Path], *,
                      update_rendered: bool = False) -> list[CaseResult]:
    """Every case of every mapping folder found under `folders`."""
    results: list[CaseResult] = []
    for folder in discover_mapping_dirs(folders):
        results.extend(run_mapping_dir(folder, update_rendered=update_rendered))
    return results
