"""Read a received CLETS message the way the registry would: valid, and about which order.

The reference receiver (and any DOJ-side test harness) needs more than "valid or not": it
needs the order the message is about, the action, and the record id it names, to answer
like the registry. `read_clets` validates against the layout and returns those facts, or
raises `OrderInvalid` listing the field errors (mnemonics and rules, never values).

MPO serves modify, extend and serve alike; the action is the one whose exact rules the
message meets (extend and serve messages carry too few fields to pass as a modify).
"""

from __future__ import annotations

from engine.clets.layout import Layout, default_layout
from engine.clets.validate import validate_clets
from engine.errors import FieldError, OrderInvalid

__all__ = ["read_clets"]


def _values(text: str, layout: Layout) -> dict[str, str]:
    """The first value of each base-section field (the message is already valid)."""
    values: dict[str, str] = {}
    for line in text.split(layout.field_separator):
        if line == layout.supplemental_marker:
            break
        mnemonic, _, value = line.partition(layout.value_separator)
        values.setdefault(mnemonic, value)
    return values


def read_clets(data: bytes | str, layout: Layout | None = None) -> dict[str, str | None]:
    """``{"order_key", "ori", "order_id", "action", "version", "record_id"}`` of a valid
    message; `OrderInvalid` with every field error otherwise. ``version`` is always None:
    CLETS messages do not carry the court's version number."""
    layout = layout or default_layout()
    errors = validate_clets(data, None, layout)
    if errors:
        raise OrderInvalid(errors)
    text = data.decode("ascii") if isinstance(data, bytes) else data
    values = _values(text, layout)
    key = values[layout.key_field]
    fitting = [a for a in layout.actions_for_key(key) if not validate_clets(text, a, layout)]
    if not fitting:
        raise OrderInvalid([FieldError(layout.key_field,
                                       f"bad format: meets no single action's rules for {key}")])
    action = min(fitting, key=lambda a: len(layout.messages[a].mnemonics(layout)))
    ori, order_id = values.get("ORI"), values.get("OID")
    return {
        "order_key": f"{ori}/{order_id}" if ori and order_id else None,
        "ori": ori,
        "order_id": order_id,
        "action": action.value,
        "version": None,
        "record_id": values.get("NIC"),
    }
