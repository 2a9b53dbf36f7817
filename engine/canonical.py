"""The engine's own intake format: canonical order JSON, decoded safely into an `Order`.

This is what a court sends when it needs no mapping. The format is documented by
`schemas/canonical-order.schema.json` (generated from `engine.model`, kept in step by a test).
"""

from __future__ import annotations

import hashlib
import json
import re
from itertools import accumulate
from typing import Any

from pydantic import ValidationError

from engine.errors import DecodeError, FieldError, OrderInvalid
from engine.model import SMT_TAGS, NamePart, Order, Text, Token

__all__ = [
    "MAX_MESSAGE_BYTES",
    "MAX_NESTING",
    "decode_order",
    "encode_order",
    "order_from_dict",
    "order_to_dict",
]

#: An order is a few kilobytes; anything near this is not an order.
MAX_MESSAGE_BYTES = 1_000_000
#: The canonical format nests 5 levels deep; cap far above that and far below the stack.
MAX_NESTING = 32


#: One JSON string literal, escapes included; an unterminated one runs to the end of the text
#: (a lone trailing backslash too), as the character-by-character reading does.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.DOTALL)
#: Every byte but the four brackets (UTF-8 of other characters never contains one), and the
#: same without the quote.
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_NOT_BRACKET_OR_QUOTE = bytes(b for b in range(256) if b not in b'[]{}"')
_BRACKET_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def _brackets_outside_strings(raw: str) -> bytes:
    """The brackets of ``raw`` that are not inside a string literal, in order."""
    if "\\" not in raw:
        # Without a backslash nothing is escaped, so every quote opens or closes a string:
        # keep only quotes and brackets, then drop every other run between quotes.
        kept = raw.encode("utf-8", "surrogatepass").translate(None, _NOT_BRACKET_OR_QUOTE)
        return b"".join(kept.split(b'"')[::2])
    return _STRING.sub("", raw).encode("utf-8", "surrogatepass").translate(None, _NOT_BRACKET)


def _nesting_depth(raw: str) -> int:
    """Deepest bracket nesting outside strings, found without building anything.

    The work is done by str, bytes and re methods (in C): strings are cut out, everything
    but brackets dropped, and the running depth summed by `accumulate`. A closing bracket
    never sets a new deepest, so the largest running sum (or 0) is the deepest opening.
    """
    brackets = _brackets_outside_strings(raw)
    return max(0, max(accumulate(map(_BRACKET_STEP.__getitem__, brackets)), default=0))


def key_ref(key: str) -> str:
    """A key from the input as error texts show it: a short hash, never the key itself
    (a court's CMS may use a person's name as a key). ``sha256:`` of its UTF-8, 12 hex."""
    return "key#" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A key given twice is ambiguous (which one did the court mean?): refuse it."""
    out = dict(pairs)
    if len(out) != len(pairs):  # some key came twice: say which by its hash and position
        seen: set[str] = set()
        for position, (key, _) in enumerate(pairs):
            if key in seen:
                raise DecodeError(f"a JSON object has a key twice (member {position + 1}, "
                                  f"{key_ref(key)})")
            seen.add(key)
    return out


#: One decoder for every message (`json.loads` with a hook builds a new one per call).
_DECODER = json.JSONDecoder(object_pairs_hook=_refuse_duplicate_keys)


def _loads(text: str) -> Any:
    """`json.loads(text, object_pairs_hook=_refuse_duplicate_keys)`, with its BOM rule."""
    if text.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _DECODER.decode(text)


def _pattern_of(annotated: Any) -> str:
    pattern: str = next(m.pattern for m in annotated.__metadata__ if getattr(m, "pattern", None))
    return pattern


#: Plain words for the model's text patterns: a clerk reads the rule, not a regular expression.
_PATTERN_REASONS = {
    _pattern_of(NamePart): "must be letters of any script, with spaces, apostrophes, hyphens "
                           "or periods, starting with a letter",
    _pattern_of(Text): "must be one line of text with no control characters (tabs, line breaks)",
    _pattern_of(Token): "must be letters, digits and . _ : / - starting with a letter or digit",
}
#: The same for fields with a pattern of their own, by field name.
_FIELD_PATTERN_REASONS = {
    "ori": "must be an NCIC ORI: 2 letters, then 7 letters or digits (e.g. CA019015J)",
    "suffix": "must be one of JR, SR, I, II, III, IV, V, VI (no periods)",
    "issuer": "must be a two-letter state or country code (e.g. CA)",
    "sha256": "must be the SHA-256 of the image as 64 lowercase hex digits",
    "uri": "must be an absolute URI without spaces (e.g. https://...)",
    "media_type": "must be application/pdf",
    "schema_version": "must be 1.N: this engine reads version 1 of the intake format",
    "code": "must be an NCIC SMT code: upper-case letters and digits, up to three words "
            "(e.g. TAT R HND)",
}


def _reason(err: Any) -> str:
    """Pydantic's message, except that a pattern is said in words."""
    if err["type"] == "string_pattern_mismatch":
        pattern = err.get("ctx", {}).get("pattern")
        field = next((p for p in reversed(err["loc"]) if isinstance(p, str)), "")
        reason: str = (_PATTERN_REASONS.get(pattern) or _FIELD_PATTERN_REASONS.get(field)
                       or err["msg"])
        return reason
    if err["type"] == "value_error":  # our validators' words (engine.text_safety), as said
        return str(err["msg"]).removeprefix("Value error, ")
    return str(err["msg"])


def field_errors(exc: ValidationError) -> list[FieldError]:
    """Pydantic's errors as path + reason, with no input values (they may be personal data)."""
    errors = exc.errors(include_input=False, include_url=False)
    # An unknown key is the last step of its path: show its hash, not the key (it may be
    # a person's name). The tags of the scars/marks/tattoos union are not path steps.
    paths = [".".join(key_ref(str(p)) if err["type"] == "extra_forbidden" and i == len(
        err["loc"]) - 1 else str(p) for i, p in enumerate(err["loc"]) if p not in SMT_TAGS)
        for err in errors]
    out = []
    for err, path in zip(errors, paths, strict=True):
        # A list whose item failed is also reported "too short" (the bad item was
        # dropped); that echo hides the real cause, so keep only the item's error.
        if err["type"] == "too_short" and any(p.startswith(path + ".") for p in paths):
            continue
        out.append(FieldError(path or "(order)", _reason(err)))
    return out


def order_from_dict(data: Any) -> Order:
    """Build an `Order` from already-decoded JSON data; `OrderInvalid` lists every problem."""
    if not isinstance(data, dict):
        raise OrderInvalid([FieldError("(order)", "an order must be a JSON object")])
    try:
        order = Order.model_validate(data)
    except ValidationError as exc:
        raise OrderInvalid(field_errors(exc)) from None
    from engine.law.checks import check_order  # rules across fields; import here avoids a cycle

    check_order(order)
    return order


def decode_order(raw: bytes | str) -> Order:
    """Decode one intake message. `DecodeError` for bad bytes, `OrderInvalid` for bad orders."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise DecodeError(f"message is {len(raw)} bytes; the limit is {MAX_MESSAGE_BYTES}")
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"message is not valid UTF-8 (byte {exc.start})") from None
    else:
        text = raw
    if _nesting_depth(text) > MAX_NESTING:
        raise DecodeError(f"JSON nests deeper than {MAX_NESTING} levels")
    try:
        data = _loads(text)
    except json.JSONDecodeError as exc:
        raise DecodeError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    return order_from_dict(data)


def order_to_dict(order: Order) -> dict[str, Any]:
    """The order as JSON-ready data; empty optional fields are left out."""
    return order.model_dump(mode="json", exclude_none=True)


def encode_order(order: Order, *, indent: int | None = None) -> str:
    """The order as canonical intake JSON."""
    return json.dumps(order_to_dict(order), ensure_ascii=False, indent=indent)
