"""What the reference receiver accepts: one validator and one ack renderer per message format.

A `ReceiverFormat` checks an inbound message the way the DOJ registry would and says which
order it is about (`Validated`); it also renders the receiver's acknowledgement in that
format's own form. Built in:

- ``niem``: NIEM XML, read and schema-validated by ``engine.niem.read_niem``; acks by
  ``engine.niem.render_niem_ack``.
- ``clets``: CLETS fixed-field text, checked by ``engine.clets.validate_clets`` against the
  declarative layout; acks by ``engine.clets.render_clets_ack``.
- ``canonical``: the engine's own canonical order JSON (``engine.canonical.decode_order``),
  with JSON acks (`render_json_ack` / `parse_json_ack`): for development and tests that
  need no DOJ format.

The NIEM and CLETS modules are imported lazily, at the first message: when one is not
available the receiver rejects each message of that format with code
``CANT-CHECK`` (ack rendered as JSON) instead of failing to start.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from lxml import etree

from engine.ack_types import Accepted, Acknowledgement, Rejected
from engine.canonical import decode_order
from engine.errors import AckError
from engine.safexml import parse_untrusted_xml

__all__ = [
    "FORMATS",
    "ReceiverFormat",
    "Validated",
    "ValidatorUnavailable",
    "format_for",
    "parse_json_ack",
    "render_json_ack",
]


@dataclass(frozen=True, slots=True)
class Validated:
    """What the receiver needs from a valid message: which order, which action, which version."""

    #: The order's identity across versions (court ORI / court order id). None when the
    #: message names only its record (``record_id``): the receiver looks the order up.
    order_key: str | None
    #: issue | modify | extend | terminate | cancel | serve (None when the format does not say).
    action: str | None = None
    version: int | None = None
    #: The DOJ record id the message refers to (modify, cancel ...), when the format says.
    record_id: str | None = None


class ValidatorUnavailable(Exception):
    """The module that validates this format is not installed or not built yet."""


@dataclass(frozen=True, slots=True)
class ReceiverFormat:
    name: str
    #: Raises `engine.errors.InputError` (or a subclass) for an invalid message.
    validate: Callable[[bytes], Validated]
    render_ack: Callable[[Acknowledgement], bytes]
    content_type: str


def render_json_ack(ack: Acknowledgement) -> bytes:
    """The JSON acknowledgement of the ``canonical`` format (and the fallback form)."""
    if isinstance(ack, Accepted):
        data: dict[str, Any] = {"mcn": ack.mcn, "status": "accepted", "record_id": ack.record_id}
    else:
        data = {"mcn": ack.mcn, "status": "rejected", "code": ack.code, "reason": ack.reason,
                "retryable": ack.retryable}
    return json.dumps(data, sort_keys=True).encode()


def parse_json_ack(data: bytes) -> Acknowledgement:
    """Parse a JSON acknowledgement; `AckError` when it is not one."""
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise AckError("acknowledgement is not JSON") from exc
    if not isinstance(obj, dict) or not isinstance(obj.get("mcn"), str):
        raise AckError("acknowledgement: missing mcn")
    status = obj.get("status")
    if status == "accepted" and isinstance(obj.get("record_id"), str):
        return Accepted(obj["mcn"], obj["record_id"])
    if status == "rejected" and isinstance(obj.get("code"), str):
        return Rejected(obj["mcn"], obj["code"], str(obj.get("reason", "")),
                        bool(obj.get("retryable", False)))
    raise AckError("acknowledgement: status must be accepted (with record_id) or rejected")


def _validate_canonical(data: bytes) -> Validated:
    order = decode_order(data)
    return Validated(order.key, order.action.value, order.version)


def _lazy(module: str, name: str) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        try:
            function = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            raise ValidatorUnavailable(f"{module}.{name} is not available") from exc
        return function(*args)
    return call


def _validated_from(result: Any, data: bytes) -> Validated:
    """Read order key, action and version from what a format's reader returned.

    Accepts an `engine.model.Order` (``read_niem``) or a mapping of fields (a layout
    validator's result: ``order_key`` or ``ori`` + ``order_id``, ``action``, ``version``,
    ``record_id``).
    """
    if hasattr(result, "key") and hasattr(result, "action"):
        action = getattr(result.action, "value", result.action)
        return Validated(result.key, str(action), getattr(result, "version", None))
    if isinstance(result, Mapping):
        key = result.get("order_key") or (
            f"{result['ori']}/{result['order_id']}" if "ori" in result and "order_id" in result
            else None)
        if key:
            version = result.get("version")
            return Validated(str(key), result.get("action"),
                             int(version) if version is not None else None,
                             result.get("record_id"))
    raise ValidatorUnavailable("the format's validator did not say which order the message is")


def _niem_record_id(data: bytes) -> str | None:
    """The ``DOJRecordID`` a NIEM message names (modify, cancel ...), if any."""
    root = parse_untrusted_xml(data)
    for child in root:
        if isinstance(child.tag, str) and etree.QName(child).localname == "DOJRecordID":
            return (child.text or "").strip() or None
    return None


def _validate_niem(data: bytes) -> Validated:
    validated = _validated_from(_lazy("engine.niem", "read_niem")(data), data)
    return replace(validated, record_id=_niem_record_id(data))


def _validate_clets(data: bytes) -> Validated:
    """Check a CLETS message against the layout and read which order and record it names.

    ``engine.clets.read_clets`` validates field by field (`OrderInvalid` when a field breaks
    its rule) and returns the order key (ORI + OID), the action and the record id (NIC).
    """
    return _validated_from(_lazy("engine.clets", "read_clets")(data), data)


def _render_with(module: str, name: str) -> Callable[[Acknowledgement], bytes]:
    render = _lazy(module, name)

    def render_ack(ack: Acknowledgement) -> bytes:
        try:
            result: bytes = render(ack)
        except ValidatorUnavailable:
            return render_json_ack(ack)
        return result
    return render_ack


FORMATS: dict[str, ReceiverFormat] = {
    "niem": ReceiverFormat("niem", _validate_niem,
                           _render_with("engine.niem", "render_niem_ack"), "application/xml"),
    "clets": ReceiverFormat("clets", _validate_clets,
                            _render_with("engine.clets", "render_clets_ack"), "text/plain"),
    "canonical": ReceiverFormat("canonical", _validate_canonical, render_json_ack,
                                "application/json"),
}

_BY_CONTENT_TYPE = {"application/xml": "niem", "text/xml": "niem", "text/plain": "clets",
                    "application/json": "canonical"}


def format_for(name: str, content_type: str | None, body: bytes,
               formats: Mapping[str, ReceiverFormat] = FORMATS) -> ReceiverFormat:
    """The format to validate with: ``name``, or for ``auto`` the content type, else a sniff."""
    if name != "auto":
        return formats[name]
    base = (content_type or "").split(";", 1)[0].strip().lower()
    if base in _BY_CONTENT_TYPE:
        return formats[_BY_CONTENT_TYPE[base]]
    head = body.lstrip()[:1]
    if head == b"<":
        return formats["niem"]
    if head == b"{":
        return formats["canonical"]
    return formats["clets"]
