"""The CLETS-style acknowledgement text: what the DOJ answers to each message, both ways.

Form (ASCII, one field per line, the same MNEMONIC/value style as the messages)::

    ACK/ACCEPT              ACK/REJECT
    MCN/<control number>    MCN/<control number>
    NIC/<record id>         ERR/<error code>
    END                     TXT/<error text>
                            RTY/Y            (Y: transient DOJ-side fault, e.g. system busy)
                            END

``END`` closes every acknowledgement so a cut-off response is recognisable as such. The
reference receiver renders with `render_clets_ack`; the correlator parses with
`parse_clets_ack`, which raises `AckError` for anything it cannot trust (garbage,
truncated, missing MCN) without quoting the response, since a reject text can echo
personal data.
"""

from __future__ import annotations

import re

from engine.ack_types import Accepted, Acknowledgement, Rejected
from engine.clets.text import transliterate
from engine.errors import AckError

__all__ = ["ACK_TERMINATOR", "MAX_ACK_BYTES", "parse_clets_ack", "render_clets_ack"]

#: Acknowledgements are short; anything larger is not one.
MAX_ACK_BYTES = 8192
ACK_TERMINATOR = "END"
_ACCEPT, _REJECT = "ACCEPT", "REJECT"
_FIELDS = {"ACK", "MCN", "NIC", "ERR", "TXT", "RTY"}
_MCN = re.compile(r"^[A-Za-z0-9-]{1,36}$")
_NIC = re.compile(r"^[A-Z0-9]{1,15}$")
_ERR = re.compile(r"^[A-Z0-9-]{1,10}$")
_TEXT_CHARS = frozenset(chr(c) for c in range(0x20, 0x7F))
_MAX_TEXT = 500


def _printable(text: str) -> str:
    """``text`` as printable ASCII: case kept, accents transliterated, blanks as spaces."""
    out = []
    for char in text:
        if char in _TEXT_CHARS:
            out.append(char)
        elif char.isspace():
            out.append(" ")
        elif not char.isascii():  # ASCII control characters are dropped
            plain = transliterate(char).text
            out.append(plain if char.isupper() else plain.lower())
    return "".join(out).strip()


def _line(mnemonic: str, value: str) -> str:
    return f"{mnemonic}/{value}"


def render_clets_ack(ack: Acknowledgement) -> bytes:
    """The acknowledgement text for ``ack`` (reject text fitted to printable ASCII);
    `AckError` when its MCN, record id or error code could not be parsed back."""
    checks = [("MCN", ack.mcn, _MCN)]
    checks.append(("NIC", ack.record_id, _NIC) if isinstance(ack, Accepted)
                  else ("ERR", ack.code, _ERR))
    for mnemonic, value, pattern in checks:
        if not pattern.match(value):
            raise AckError(f"cannot render a CLETS acknowledgement: {mnemonic} is malformed")
    if isinstance(ack, Accepted):
        lines = [_line("ACK", _ACCEPT), _line("MCN", ack.mcn), _line("NIC", ack.record_id)]
    else:
        reason = _printable(ack.reason)[:_MAX_TEXT].strip()
        lines = [_line("ACK", _REJECT), _line("MCN", ack.mcn), _line("ERR", ack.code),
                 _line("TXT", reason), _line("RTY", "Y" if ack.retryable else "N")]
    return ("\n".join([*lines, ACK_TERMINATOR]) + "\n").encode("ascii")


def _fields(data: bytes) -> dict[str, str]:
    if len(data) > MAX_ACK_BYTES:
        raise AckError(f"CLETS acknowledgement larger than {MAX_ACK_BYTES} bytes")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise AckError("CLETS acknowledgement is not ASCII text") from exc
    lines = text.replace("\r\n", "\n").rstrip("\n").split("\n")
    if lines[-1] != ACK_TERMINATOR:
        raise AckError("CLETS acknowledgement is truncated: no END line")
    fields: dict[str, str] = {}
    for number, line in enumerate(lines[:-1], start=1):
        mnemonic, found, value = line.partition("/")
        if not found or mnemonic not in _FIELDS:
            raise AckError(f"CLETS acknowledgement line {number} is not a known "
                           "MNEMONIC/value field")
        if mnemonic in fields:
            raise AckError(f"CLETS acknowledgement repeats {mnemonic}")
        if not set(value) <= _TEXT_CHARS:
            raise AckError(f"CLETS acknowledgement {mnemonic} has control characters")
        fields[mnemonic] = value
    return fields


def _need(fields: dict[str, str], mnemonic: str, pattern: re.Pattern[str]) -> str:
    value = fields.get(mnemonic)
    if value is None:
        raise AckError(f"CLETS acknowledgement has no {mnemonic}")
    if not pattern.match(value):
        raise AckError(f"CLETS acknowledgement {mnemonic} is malformed")
    return value


def parse_clets_ack(data: bytes) -> Accepted | Rejected:
    """The typed acknowledgement in ``data``; `AckError` when it is not a whole, valid one."""
    fields = _fields(data)
    kind = fields.get("ACK")
    mcn = _need(fields, "MCN", _MCN)
    if kind == _ACCEPT:
        if fields.keys() - {"ACK", "MCN", "NIC"}:
            raise AckError("CLETS acceptance carries reject fields")
        return Accepted(mcn=mcn, record_id=_need(fields, "NIC", _NIC))
    if kind == _REJECT:
        if "NIC" in fields:
            raise AckError("CLETS reject carries a record id")
        retry = fields.get("RTY", "N")
        if retry not in ("Y", "N"):
            raise AckError("CLETS acknowledgement RTY must be Y or N")
        text = fields.get("TXT", "")
        if len(text) > _MAX_TEXT:
            raise AckError(f"CLETS acknowledgement TXT longer than {_MAX_TEXT}")
        return Rejected(mcn=mcn, code=_need(fields, "ERR", _ERR), reason=text.strip(),
                        retryable=retry == "Y")
    raise AckError("CLETS acknowledgement has no ACK/ACCEPT or ACK/REJECT line")
