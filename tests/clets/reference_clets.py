"""The CLETS text, field, render and validate code as it was before the rules were compiled
per layout (engine/clets/rules.py): kept verbatim, only as the oracle the differential tests
(test_clets_compiled_rules.py) hold the current code to. Never imported by the engine.
"""

# ruff: noqa

from __future__ import annotations

import datetime as dt
import enum
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from engine.clets.layout import FieldSpec, Layout, MessageSpec, default_layout
from engine.clets.render import _content_warnings
from engine.clets.sources import SOURCE_PATHS, SOURCES, SourceInput, unused_identifiers
from engine.errors import FieldError, RenderError
from engine.formats import RenderContext, Rendered
from engine.model import Action, Order, PersonName


# ---- engine/clets/text.py as it was ----


#: Letters (and typographic marks) that NFKD does not decompose to ASCII.
_TABLE = {
    "ß": "SS", "ẞ": "SS", "Æ": "AE", "æ": "AE", "Œ": "OE", "œ": "OE",
    "Ø": "O", "ø": "O", "Đ": "D", "đ": "D", "Ð": "D", "ð": "D", "Þ": "TH", "þ": "TH",
    "Ł": "L", "ł": "L", "Ħ": "H", "ħ": "H", "\u0131": "I", "ĸ": "K", "Ŋ": "NG", "ŋ": "NG",
    "Ŧ": "T", "ŧ": "T", "Ŀ": "L", "ŀ": "L", "ƒ": "F", "Ɨ": "I", "ɨ": "I",
    "Ƶ": "Z", "ƶ": "Z", "Ǥ": "G", "ǥ": "G", "Ƀ": "B", "ƀ": "B",
    "\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u201a": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
    "\u00a0": " ",
}
_BLANKS = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Fitted:
    """Text fitted to a character set, and how many characters could not be carried."""

    text: str
    lost: int


def transliterate(text: str) -> Fitted:
    """Upper-case ASCII spelling of ``text``; characters with no ASCII form are counted."""
    out: list[str] = []
    lost = 0
    for char in text:
        if char.isascii():
            out.append(char)
            continue
        if char in _TABLE:
            out.append(_TABLE[char])
            continue
        if unicodedata.combining(char):
            continue  # an accent already split off: it carries no letter of its own
        base = "".join(c for c in unicodedata.normalize("NFKD", char)
                       if not unicodedata.combining(c))
        base = "".join(_TABLE.get(c, c) for c in base)
        if base and base.isascii():
            out.append(base)
        elif char.isspace():
            out.append(" ")
        else:
            lost += 1
    return Fitted("".join(out).upper(), lost)


def fit_to_charset(text: str, allowed: frozenset[str], drop: str = "") -> Fitted:
    """Transliterate, remove ``drop`` characters, collapse blanks, count what ``allowed``
    cannot carry (those are removed too). The result only uses characters in ``allowed``."""
    translit = transliterate(text)
    kept: list[str] = []
    lost = translit.lost
    for char in translit.text:
        if char in drop:
            continue
        if char.isspace():
            kept.append(" ")
        elif char in allowed:
            kept.append(char)
        else:
            lost += 1
    joined = _BLANKS.sub(" ", "".join(kept)).strip()
    if " " not in allowed:
        joined = joined.replace(" ", "")
    return Fitted(joined, lost)


def format_ncic_name(name: PersonName, allowed: frozenset[str], drop: str,
                     max_length: int) -> tuple[Fitted, tuple[str, ...]]:
    """NCIC name fitting as issue 16 defines it (Personal Descriptors 2.1), written
    plainly: try each shortening in turn until the name fits."""
    allowed_part = allowed - {","}
    parts = [fit_to_charset(p, allowed_part, drop) for p in
             (name.surname, name.given, name.middle, name.suffix) if p]
    lost = sum(p.lost + (not p.text.strip(" -")) for p in parts)

    def part(value):
        return fit_to_charset(value, allowed_part, drop).text.strip(" -") if value else ""

    surname, suffix = part(name.surname), part(name.suffix)
    given, middle = part(name.given).split(), part(name.middle).split()

    def text(s, g, m):
        return s + "," + " ".join(g + m + ([suffix] if suffix else []))

    candidates = [
        (None, surname, given, middle),
        ("middle name reduced to its initial", surname, given, middle[:1] and [middle[0][0]]),
    ]
    g2 = given[:1] + [w[0] for w in given[1:]]
    candidates.append(("further given names reduced to initials", surname, g2,
                       candidates[-1][3]))
    candidates.append(("given name reduced to its initial", surname, given[:1] and
                       [given[0][0]], candidates[-1][3]))
    candidates.append(("middle initial dropped", surname, candidates[-1][2], []))
    steps: list[str] = []
    previous = candidates[0]
    for step, s_, g, m in candidates:
        if step is not None and text(s_, g, m) != text(*previous[1:]):
            steps.append(step)
        previous = (step, s_, g, m)
        if len(text(s_, g, m)) <= max_length:
            return Fitted(text(s_, g, m)[:max_length].rstrip(" -"), lost), tuple(steps)
    _, s_, g, m = previous
    room = max(max_length - len(text("", g, m)), 1)
    cut = s_[:room]
    if len(cut) < len(s_) and s_[len(cut)] not in " -":
        boundary = max(cut.rfind(" "), cut.rfind("-"))
        if boundary > 0:
            cut = cut[:boundary]
    cut = cut.rstrip(" -") or s_[:room]
    steps.append("surname shortened")
    return Fitted(text(cut, g, m)[:max_length].rstrip(" -"), lost), tuple(steps)


# ---- engine/clets/fields.py as it was ----


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


# ---- engine/clets/render.py as it was ----


CONTENT_TYPE = "text/plain"


class _Message:
    """Lines of one message being built, with what went wrong and what was changed."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.base: list[str] = []
        self.supplemental: list[str] = []
        self.warnings: list[str] = []
        self.errors: list[FieldError] = []
        #: fields whose value could not be encoded (their absence is not a second error)
        self.failed: set[str] = set()
        #: fields that got at least one line
        self.emitted: set[str] = set()

    def add(self, spec: FieldSpec, path: str, raw: object, supplemental: bool) -> None:
        encoded = encode_value(spec, path, raw, self.layout)
        self.warnings += encoded.warnings
        self.errors += encoded.errors
        if encoded.errors:
            self.failed.add(spec.mnemonic)
        if encoded.text is not None:
            line = f"{spec.mnemonic}{self.layout.value_separator}{encoded.text}"
            self.emitted.add(spec.mnemonic)
            (self.supplemental if supplemental else self.base).append(line)

    def text(self) -> str:
        lines = list(self.base)
        if self.supplemental:
            lines += [self.layout.supplemental_marker, *self.supplemental]
        sep = self.layout.field_separator
        return sep.join(lines) + sep


def _add_field(msg: _Message, spec: FieldSpec, si: SourceInput) -> None:
    values = SOURCES[spec.source](si)
    supplemental = spec.section == "supplemental"
    if len(values) > spec.repeat:
        msg.errors.append(FieldError(values[spec.repeat][0],
                                     f"{spec.mnemonic}: repeated: the layout carries at most "
                                     f"{spec.repeat}"))
        values = values[: spec.repeat]
    for path, raw in values:
        msg.add(spec, path, raw, supplemental)


def _add_group(msg: _Message, name: str, si: SourceInput) -> None:
    layout = msg.layout
    group = layout.groups[name]
    members = SOURCES[group.source](si)
    if len(members) > group.max:
        msg.errors.append(FieldError(members[group.max][0],
                                     f"{name}: repeated: the layout carries at most {group.max}"))
    specs = [layout.fields[m] for m in group.fields]
    columns = [SOURCES[s.source](si) for s in specs]
    for index in range(min(len(members), group.max)):
        for spec, column in zip(specs, columns, strict=True):
            path, raw = column[index]
            if raw is not None:
                msg.add(spec, path, raw, supplemental=index > 0)


def _build(order: Order, ctx: RenderContext, spec: MessageSpec, layout: Layout) -> _Message:
    msg = _Message(layout)
    si = SourceInput(order=order, context=ctx, key=spec.key)
    msg.add(layout.fields[layout.key_field], "action", spec.key, supplemental=False)
    used_sources: set[str] = set()
    for item in spec.items:
        if item in layout.groups:
            _add_group(msg, item, si)
        else:
            _add_field(msg, layout.fields[item], si)
            used_sources.add(layout.fields[item].source)
    for mnemonic in sorted(spec.required - msg.emitted - msg.failed):
        source = layout.fields[mnemonic].source
        msg.errors.append(FieldError(SOURCE_PATHS.get(source, source),
                                     f"{mnemonic}: missing required"))
    # Issue 16: the layout's one-of rules and the content warnings (not part of the
    # compiled-rules rewrite this oracle guards; taken from the renderer as they are).
    for fields, rule in spec.required_one_of:
        if not msg.emitted.intersection(fields) and not msg.failed.intersection(fields):
            source = layout.fields[fields[0]].source
            msg.errors.append(FieldError(SOURCE_PATHS.get(source, source),
                                         f"{fields[0]}: missing required: {rule}"))
    msg.warnings += [f"identifier not carried by the {spec.key} message ({path})"
                     for path in unused_identifiers(order, used_sources)
                     if spec.action in (Action.ISSUE, Action.MODIFY)]
    msg.warnings += _content_warnings(order, used_sources)
    return msg


def render_clets(order: Order, ctx: RenderContext, layout: Layout | None = None) -> Rendered:
    """The CLETS message for this order version, validated; `RenderError` lists every
    field problem (paths and rules, never values)."""
    layout = layout or default_layout()
    spec = layout.messages[order.action]
    problems: list[FieldError] = []
    if "NIC" in spec.required and not ctx.doj_record_id:
        problems.append(FieldError("context.doj_record_id",
                                   f"NIC: missing required: a {order.action.value} message "
                                   "carries the DOJ record id from the entry's acknowledgement"))
    if len(order.restrained_persons) > layout.max_restrained_persons:
        problems.append(FieldError("restrained_persons",
                                   f"NAM: repeated: a record carries at most "
                                   f"{layout.max_restrained_persons} restrained person(s); "
                                   "split the order"))
    if problems:
        raise RenderError(f"order {order.version_key} cannot be rendered as CLETS "
                          f"{spec.key}", tuple(problems))
    msg = _build(order, ctx, spec, layout)
    text = msg.text()
    # Problems found while encoding name order fields; only a message built without any is
    # worth validating (its errors would otherwise just echo the missing lines).
    problems = msg.errors or validate_clets(text, order.action, layout)
    if problems:
        detail = "; ".join(str(p) for p in problems)
        raise RenderError(f"order {order.version_key} cannot be rendered as CLETS "
                          f"{spec.key}: {detail}", tuple(problems))
    return Rendered(body=text.encode("ascii"), content_type=CONTENT_TYPE,
                    warnings=tuple(dict.fromkeys(msg.warnings)))


# ---- engine/clets/validate.py as it was ----


def _split_line(line: str, sep: str) -> tuple[str, str] | None:
    mnemonic, found, value = line.partition(sep)
    return (mnemonic, value) if found else None


def validate_clets(text: str | bytes, action: Action | None = None,
                   layout: Layout | None = None) -> list[FieldError]:
    """Every problem of the message ``text``, field by field; empty when it is valid.

    With ``action`` the message is held to that action's exact rules; without it, the
    action is read from the message key (when several actions share a key, such as MPO for
    modify, extend and serve, a field is allowed if any of them allows it and required if
    all of them require it).
    """
    layout = layout or default_layout()
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            return [FieldError("(message)", "bad character: the message is not ASCII")]
    sep = layout.field_separator
    if text.endswith(sep):
        text = text[: -len(sep)]
    lines = text.split(sep) if text else []
    key_field = layout.key_field
    head = _split_line(lines[0], layout.value_separator) if lines else None
    if head is None or head[0] != key_field:
        return [FieldError(key_field, f"missing required: the first line must be {key_field}")]
    key = head[1]
    candidates = layout.actions_for_key(key)
    if action is not None:
        if layout.messages[action].key != key:
            return [FieldError(key_field, f"bad code: {action.value} messages use key "
                                          f"{layout.messages[action].key}")]
        candidates = (action,)
    if not candidates:
        return [FieldError(key_field, "bad code: not a message key of this layout")]

    specs = [layout.messages[a] for a in candidates]
    allowed = set().union(*(m.mnemonics(layout) for m in specs))
    required = frozenset.intersection(*(m.required for m in specs))

    errors: list[FieldError] = []
    seen: Counter[tuple[str, str]] = Counter()
    section = "base"
    group_started: set[str] = set()
    for number, line in enumerate(lines[1:], start=2):
        if line == layout.supplemental_marker:
            if section == "supplemental":
                errors.append(FieldError(f"line {number}",
                                         "bad format: a second supplemental marker"))
            section = "supplemental"
            continue
        parsed = _split_line(line, layout.value_separator)
        if parsed is None:
            errors.append(FieldError(f"line {number}", "bad format: not MNEMONIC"
                                     f"{layout.value_separator}value"))
            continue
        mnemonic, value = parsed
        spec = layout.fields.get(mnemonic)
        if spec is None or mnemonic not in allowed:
            where = mnemonic if spec is not None else f"line {number}"
            errors.append(FieldError(where, f"not allowed: not a field of {key} messages"))
            continue
        seen[(mnemonic, section)] += 1
        count = seen[(mnemonic, section)]
        where = mnemonic if count == 1 else f"{mnemonic}[{count - 1}]"
        if section == "supplemental":
            where = f"{layout.supplemental_marker}.{where}"
        errors += [FieldError(where, reason) for reason in check_value(spec, value, layout)]

        if spec.group is not None:
            group = layout.groups[spec.group]
            limit = 1 if section == "base" else group.max - 1
            if section == "supplemental":
                if mnemonic == group.fields[0]:
                    group_started.add(group.name)
                elif group.name not in group_started:
                    errors.append(FieldError(where, f"bad format: comes before its "
                                                    f"{group.fields[0]}"))
        elif spec.section != section:
            errors.append(FieldError(where, f"not allowed: belongs in the {spec.section} "
                                            "section"))
            continue
        else:
            limit = spec.repeat
        if count == limit + 1:
            errors.append(FieldError(where, f"repeated: more than {limit} time(s)"))

    for mnemonic in sorted(required):
        if not seen[(mnemonic, "base")]:
            errors.append(FieldError(mnemonic, "missing required"))
    return errors
