"""Field-by-field validation of a CLETS message against the layout.

Every message the renderer makes passes through here before it leaves, and a DOJ endpoint
team (or `engine clets validate FILE`) can check any message text the same way. Each
problem is a `FieldError` whose path is the field mnemonic (``PCO[2]`` for the third
occurrence of a repeating field) and whose reason starts with the rule it breaks: ``too
long``, ``bad character``, ``bad code``, ``bad date``, ``bad format``, ``missing
required``, ``not allowed``, ``repeated``. Values never appear in the reasons.
"""

from __future__ import annotations

from engine.clets.layout import Layout, default_layout
from engine.errors import FieldError
from engine.model import Action

__all__ = ["validate_clets"]


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
    vsep = layout.value_separator
    head = _split_line(lines[0], vsep) if lines else None
    if head is None or head[0] != key_field:
        return [FieldError(key_field, f"missing required: the first line must be {key_field}")]
    key = head[1]
    if action is not None:
        if layout.messages[action].key != key:
            return [FieldError(key_field, f"bad code: {action.value} messages use key "
                                          f"{layout.messages[action].key}")]
        plan = layout.message_rules[(key, action)]
    else:
        found = layout.message_rules.get(key)
        if found is None:
            return [FieldError(key_field, "bad code: not a message key of this layout")]
        plan = found
    # The actions this message is held to, worked out once per layout (see Layout).
    _, allowed, required = plan

    fields = layout.fields
    rules = layout.rules
    marker = layout.supplemental_marker
    errors: list[FieldError] = []
    #: occurrences of each field so far, per section
    seen: dict[str, dict[str, int]] = {"base": {}, "supplemental": {}}
    section = "base"
    counts = seen[section]
    group_started: set[str] = set()
    for number, line in enumerate(lines[1:], start=2):
        if line == marker:
            if section == "supplemental":
                errors.append(FieldError(f"line {number}",
                                         "bad format: a second supplemental marker"))
            section = "supplemental"
            counts = seen[section]
            continue
        mnemonic, found_sep, value = line.partition(vsep)
        if not found_sep:
            errors.append(FieldError(f"line {number}", f"bad format: not MNEMONIC{vsep}value"))
            continue
        spec = fields.get(mnemonic)
        if spec is None or mnemonic not in allowed:
            where = mnemonic if spec is not None else f"line {number}"
            errors.append(FieldError(where, f"not allowed: not a field of {key} messages"))
            continue
        count = counts.get(mnemonic, 0) + 1
        counts[mnemonic] = count
        where = mnemonic if count == 1 else f"{mnemonic}[{count - 1}]"
        if section == "supplemental":
            where = f"{marker}.{where}"
        reasons = rules[mnemonic].reasons(value)
        if reasons:
            errors += [FieldError(where, reason) for reason in reasons]

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

    base = seen["base"]
    for mnemonic in sorted(required):
        if mnemonic not in base:
            errors.append(FieldError(mnemonic, "missing required"))
    return errors
