"""One CLETS field, both ways: a canonical value encoded as field text, and field text checked.

`encode_value` turns a value from `engine.clets.sources` into the text the layout's field
spec asks for (codes through their table, dates in the layout's format, names and free
text transliterated). `check_value` is the validator's rule set for one field's text and
is the only definition of "a valid field": the renderer's output goes through it too.

Reasons name the rule (``too long``, ``bad character``, ``bad code``, ``bad date``,
``bad format``, ``missing required``); warnings name the field and the order path. Neither
ever contains the value itself.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field

from engine.clets.layout import FieldSpec, Layout
from engine.clets.text import fit_to_charset, format_ncic_name
from engine.errors import FieldError
from engine.model import PersonName

__all__ = ["Encoded", "check_value", "encode_value"]


@dataclass(slots=True)
class Encoded:
    text: str | None = None
    warnings: list[str] = field(default_factory=list)
    errors: list[FieldError] = field(default_factory=list)


def _fit_text(spec: FieldSpec, path: str, raw: str, out: Encoded) -> None:
    fitted = fit_to_charset(raw, spec.charset, spec.drop_chars)
    if fitted.lost:
        if spec.on_bad_char == "drop":
            out.warnings.append(f"{spec.mnemonic}: {fitted.lost} character(s) with no "
                                f"form in the {spec.charset_name} set dropped ({path})")
        else:
            out.errors.append(FieldError(
                path, f"{spec.mnemonic}: bad character: {fitted.lost} character(s) have no "
                      f"form in the {spec.charset_name} set; supply a romanized spelling"))
            return
    text = fitted.text
    if len(text) > spec.max_length:
        if spec.on_overflow == "truncate":
            out.warnings.append(f"{spec.mnemonic}: truncated from {len(text)} to "
                                f"{spec.max_length} characters ({path})")
            text = text[: spec.max_length].rstrip()
        else:
            out.errors.append(FieldError(
                path, f"{spec.mnemonic}: too long: {len(text)} characters, max "
                      f"{spec.max_length}"))
            return
    if not raw.isascii():
        out.warnings.append(f"{spec.mnemonic}: transliterated to the {spec.charset_name} "
                            f"character set ({path})")
    out.text = text


def _fit_name(spec: FieldSpec, path: str, name: PersonName, out: Encoded) -> None:
    fitted, truncated = format_ncic_name(name, spec.charset, spec.drop_chars, spec.max_length)
    if fitted.lost:
        out.errors.append(FieldError(
            path, f"{spec.mnemonic}: bad character: {fitted.lost} letter(s) have no form in "
                  f"the {spec.charset_name} set; supply a romanized spelling"))
        return
    if truncated:
        out.warnings.append(f"{spec.mnemonic}: truncated to {spec.max_length} characters "
                            f"({path})")
    parts = (name.surname, name.given, name.middle)
    if not all(p.isascii() for p in parts if p):
        out.warnings.append(f"{spec.mnemonic}: transliterated to the {spec.charset_name} "
                            f"character set ({path})")
    out.text = fitted.text


def encode_value(spec: FieldSpec, path: str, raw: object, layout: Layout) -> Encoded:
    """The field text for ``raw`` under ``spec``; errors and warnings carry ``path``."""
    out = Encoded()
    if raw is None:
        out.text = spec.none_value
        return out
    if spec.kind == "name":
        assert isinstance(raw, PersonName)
        _fit_name(spec, path, raw, out)
    elif spec.kind == "text":
        _fit_text(spec, path, str(raw), out)
    elif spec.kind == "code":
        assert spec.table is not None
        word = raw.value if isinstance(raw, enum.Enum) else str(raw)
        code = spec.table.codes.get(str(word))
        if code is None:
            out.errors.append(FieldError(path, f"{spec.mnemonic}: bad code: no "
                                               f"{spec.table.name} code for this value"))
        out.text = code
    elif spec.kind == "date":
        assert isinstance(raw, dt.date)
        out.text = raw.strftime(layout.date_format)
    elif spec.kind == "height":
        assert isinstance(raw, int)
        out.text = f"{raw // 12}{raw % 12:02d}"
    else:  # number, verbatim: checked as they are
        out.text = str(raw)
    if out.text is not None and not out.errors:
        # The validator's rules, applied here so a failure names the order's path.
        out.errors += [FieldError(path, f"{spec.mnemonic}: {reason}")
                       for reason in check_value(spec, out.text, layout)]
        if out.errors:
            out.text = None
    return out


def check_value(spec: FieldSpec, value: str, layout: Layout) -> list[str]:
    """Every rule ``value`` breaks as ``spec``'s text, each reason starting with the rule."""
    if value == "":
        return ["missing required: empty value"]
    reasons = []
    if len(value) > spec.max_length:
        reasons.append(f"too long: {len(value)} characters, max {spec.max_length}")
    if not set(value) <= spec.charset:
        reasons.append(f"bad character: outside the {spec.charset_name} set")
    if spec.none_value is not None and value == spec.none_value:
        return reasons
    if spec.table is not None and value not in spec.table.code_set:
        reasons.append(f"bad code: not in table {spec.table.name}")
    if spec.kind == "date":
        # strptime accepts 1-digit months and days; the registry wants the fixed width.
        width = len(dt.date(2000, 1, 1).strftime(layout.date_format))
        try:
            dt.datetime.strptime(value, layout.date_format)
            if len(value) != width:
                raise ValueError(value)
        except ValueError:
            reasons.append(f"bad date: expected {layout.date_format_text}")
    if spec.pattern is not None and not spec.pattern.fullmatch(value):
        reasons.append(f"bad format: does not match {spec.pattern.pattern}")
    return reasons
