"""One CLETS field, both ways: a canonical value encoded as field text, and field text checked.

`encode_value` turns a value from `engine.clets.sources` into the text the layout's field
spec asks for (codes through their table, dates in the layout's format, names and free
text transliterated). `check_value` is the validator's rule set for one field's text and
is the only definition of "a valid field": the renderer's output goes through it too. The
rules are compiled once per layout (`engine.clets.rules.FieldRules`, ``layout.rules``);
`encode_with` is `encode_value` given the compiled rules, as the renderer calls it.

Reasons name the rule (``too long``, ``bad character``, ``bad code``, ``bad date``,
``bad format``, ``missing required``); warnings name the field and the order path. Neither
ever contains the value itself.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Final

from engine.clets.layout import FieldSpec, Layout
from engine.clets.rules import FieldRules
from engine.clets.text import fit_to_charset, format_ncic_name
from engine.errors import FieldError
from engine.model import PersonName

__all__ = ["NEEDS_ENCODING", "Encoded", "check_value", "encode_value", "encode_with", "plain_text"]


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
    fitted, steps = format_ncic_name(name, spec.charset, spec.drop_chars, spec.max_length)
    if fitted.lost:
        out.errors.append(FieldError(
            path, f"{spec.mnemonic}: bad character: {fitted.lost} letter(s) have no form in "
                  f"the {spec.charset_name} set; supply a romanized spelling"))
        return
    if steps:
        out.warnings.append(f"{spec.mnemonic}: shortened to fit {spec.max_length} "
                            f"characters: {'; '.join(steps)} ({path})")
    parts = (name.surname, name.given, name.middle)
    if not all(p.isascii() for p in parts if p):
        out.warnings.append(f"{spec.mnemonic}: transliterated to the {spec.charset_name} "
                            f"character set ({path})")
    out.text = fitted.text


def _rules_for(spec: FieldSpec, layout: Layout) -> FieldRules[FieldSpec]:
    """The layout's compiled rules for ``spec`` (compiled here for a spec of its own)."""
    rules = layout.rules.get(spec.mnemonic)
    if rules is None or rules.spec is not spec:
        rules = FieldRules(spec, layout.value_separator, layout.date_format,
                           layout.date_format_text)
    return rules


def encode_value(spec: FieldSpec, path: str, raw: object, layout: Layout) -> Encoded:
    """The field text for ``raw`` under ``spec``; errors and warnings carry ``path``."""
    return encode_with(_rules_for(spec, layout), path, raw)


def encode_with(rules: FieldRules[FieldSpec], path: str, raw: object) -> Encoded:
    """`encode_value` with the field's compiled rules (the renderer's hot path)."""
    spec = rules.spec
    out = Encoded()
    if raw is None:
        out.text = spec.none_value
        return out
    kind = spec.kind
    if kind == "name":
        assert isinstance(raw, PersonName)
        _fit_name(spec, path, raw, out)
    elif kind == "text":
        _fit_text(spec, path, str(raw), out)
    elif kind == "code":
        assert spec.table is not None
        word = raw.value if isinstance(raw, enum.Enum) else str(raw)
        code = spec.table.codes.get(str(word))
        if code is None:
            out.errors.append(FieldError(path, f"{spec.mnemonic}: bad code: no "
                                               f"{spec.table.name} code for this value"))
        out.text = code
    elif kind == "date":
        assert isinstance(raw, dt.date)
        out.text = rules.format_date(raw)
    elif kind == "height":
        assert isinstance(raw, int)
        out.text = f"{raw // 12}{raw % 12:02d}"
    else:  # number, verbatim: checked as they are
        out.text = str(raw)
    if out.text is not None and not out.errors:
        # The validator's rules, applied here so a failure names the order's path.
        reasons = rules.reasons(out.text)
        if reasons:
            out.errors += [FieldError(path, f"{spec.mnemonic}: {reason}")
                           for reason in reasons]
            out.text = None
    return out


class _Needs(enum.Enum):
    ENCODING = "encoding"


#: `plain_text`'s answer when the value needs `encode_with` (it may warn or fail).
NEEDS_ENCODING: Final = _Needs.ENCODING


def plain_text(rules: FieldRules[FieldSpec], raw: object) -> str | _Needs | None:
    """The field text `encode_with` gives ``raw`` when that comes with no warning and no
    error (None: no line), else `NEEDS_ENCODING`. The renderer's fast path: the same text
    by the same steps, without building an `Encoded`; whatever could warn (names, free
    text) or fails a rule goes the full way, which then says why."""
    spec = rules.spec
    if raw is None:
        return spec.none_value
    kind = spec.kind
    if kind == "code":
        word = raw.value if isinstance(raw, enum.Enum) else str(raw)
        # Only words whose code breaks no rule are listed; any other takes the full way.
        return rules.good_codes.get(str(word), NEEDS_ENCODING)
    if kind == "date":
        assert isinstance(raw, dt.date)
        text = rules.format_date(raw)
    elif kind == "height":
        assert isinstance(raw, int)
        text = f"{raw // 12}{raw % 12:02d}"
    elif kind in ("name", "text"):
        return NEEDS_ENCODING
    else:  # number, verbatim
        text = str(raw)
    return NEEDS_ENCODING if rules.reasons(text) else text


def check_value(spec: FieldSpec, value: str, layout: Layout) -> list[str]:
    """Every rule ``value`` breaks as ``spec``'s text, each reason starting with the rule.

    The rules (in order): not empty (``missing required``, and nothing else is said),
    ``too long``, ``bad character`` (outside the field's set); a field's ``none_value``
    needs no more; ``bad code`` (not in the table), ``bad date`` (not a date in the
    layout's format at its fixed width), ``bad format`` (the pattern). They are compiled
    once per layout: see `engine.clets.rules.FieldRules`.
    """
    return _rules_for(spec, layout).reasons(value)
