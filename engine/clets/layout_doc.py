"""The layout as Markdown tables, so the DOJ contract document never drifts from the YAML.

`docs/clets-contract.md` holds marked sections (``<!-- layout:fields -->`` ...
``<!-- /layout:fields -->``); `sync_document` rewrites them from the layout
(`engine clets layout --sync-doc docs/clets-contract.md`) and a test checks they match.
"""

from __future__ import annotations

import re

from engine.clets.layout import FieldSpec, Layout

__all__ = ["SECTIONS", "layout_sections", "sync_document"]

SECTIONS = ("fields", "messages", "tables", "assumptions")


def _field_notes(spec: FieldSpec) -> str:
    notes = []
    if spec.repeat > 1:
        notes.append(f"up to {spec.repeat}")
    if spec.group:
        notes.append(f"group `{spec.group}`")
    if spec.section == "supplemental":
        notes.append("supplemental section")
    if spec.on_overflow == "truncate":
        notes.append("truncated with a warning")
    if spec.on_bad_char == "drop":
        notes.append("untransliterable characters dropped with a warning")
    if spec.drop_chars.strip():
        notes.append(f"removes `{spec.drop_chars}`")
    if spec.none_value:
        notes.append(f"`{spec.none_value}` when none")
    if spec.pattern is not None:
        notes.append("pattern `" + spec.pattern.pattern.replace("|", "\\|") + "`")
    if spec.kind == "date":
        notes.append("date")
    return "; ".join(notes)


def layout_sections(layout: Layout) -> dict[str, str]:
    """Section name -> Markdown text generated from ``layout``."""
    fields = ["| Mnemonic | Meaning | Max | Characters | Code table | Notes |",
              "|---|---|---|---|---|---|"]
    fields += [f"| {m} | {f.meaning} | {f.max_length} | {f.charset_name} | "
               f"{f.table.name if f.table else ''} | {_field_notes(f)} |"
               for m, f in layout.fields.items()]
    messages = ["| Action | Key | Meaning | Required | Optional |", "|---|---|---|---|---|"]
    for action, msg in layout.messages.items():
        listed = msg.mnemonics(layout)
        required = ", ".join(m for m in listed if m in msg.required)
        optional = ", ".join(m for m in listed if m not in msg.required) or "-"
        messages.append(f"| {action.value} | `{msg.key}` | {msg.meaning} | {required} | "
                        f"{optional} |")
    tables = ["| Table | Canonical word = code |", "|---|---|"]
    for name, table in layout.tables.items():
        ref = (f" (checked against `{table.reference[0]}` {table.reference[1]})"
               if table.reference else "")
        codes = ", ".join(f"{word}={code}" for word, code in table.codes.items())
        tables.append(f"| {name}{ref} | {codes} |")
    assumptions = [f"- `{where}`: {note}" for where, note in layout.assumptions()]
    return {"fields": "\n".join(fields), "messages": "\n".join(messages),
            "tables": "\n".join(tables), "assumptions": "\n".join(assumptions)}


def _marked(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- layout:{name} -->\n)(.*?)(<!-- /layout:{name} -->)", re.DOTALL)


def sync_document(text: str, layout: Layout) -> str:
    """``text`` with each marked section replaced by the layout's current tables."""
    for name, body in layout_sections(layout).items():
        pattern = _marked(name)
        if not pattern.search(text):
            raise ValueError(f"the document has no <!-- layout:{name} --> section")
        def replace(match: re.Match[str], body: str = body) -> str:
            return f"{match.group(1)}{body}\n{match.group(3)}"

        text = pattern.sub(replace, text)
    return text
