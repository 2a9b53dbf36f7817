"""Parse XML that came from outside without letting it reach out or blow up.

Every inbound XML document (NIEM filings, ECF-style CMS exports, DOJ acknowledgements)
goes through `parse_untrusted_xml`: no DOCTYPE of any kind (so no entities, no XXE, no
billion laughs), no network, no DTD loading, a byte-size cap and an element-depth cap.
"""

from __future__ import annotations

import codecs
import re

from lxml import etree

from engine.errors import DecodeError

__all__ = ["MAX_XML_BYTES", "MAX_XML_DEPTH", "parse_untrusted_xml", "require_utf8"]

#: A protective-order document is tens of kilobytes; an attached image is a reference.
MAX_XML_BYTES = 2_000_000
#: NIEM protection orders nest about 10 deep; far above that is an attack or an error.
MAX_XML_DEPTH = 64


# The encoding pseudo-attribute of an XML declaration (XML 1.0 section 4.3.3).
_DECLARED_ENCODING = re.compile(
    rb"<\?xml[^>]*?\sencoding\s*=\s*[\"']([A-Za-z][A-Za-z0-9._-]*)[\"']")
_WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def require_utf8(data: bytes) -> None:
    """Refuse a document that is not UTF-8 throughout, declaration and bytes alike.

    Our contracts carry UTF-8 only. A document declared in another encoding (UTF-16,
    ISO-8859-1, ...) or whose bytes are not UTF-8 is refused rather than read as
    something else: a misread byte is a misspelt name in the registry. The error names the
    byte offset, never the bytes (they may be a name).
    """
    if data.startswith(_WIDE_BOMS) or data[:4].count(0):
        raise DecodeError("XML must be encoded as UTF-8; this document is UTF-16 or UTF-32")
    body = data[3:] if data.startswith(codecs.BOM_UTF8) else data
    declared = _DECLARED_ENCODING.match(body[:200])
    if declared is not None and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        raise DecodeError(f"XML must be encoded as UTF-8; this document declares "
                          f"{declared.group(1).decode('ascii')!r}")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(f"XML declared (or defaulting to) UTF-8 has bytes that are not "
                          f"UTF-8 at byte offset {exc.start}") from None


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _check_depth(root: etree._Element, limit: int) -> None:
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > limit:
            raise DecodeError(f"XML nests deeper than {limit} elements")
        stack.extend((child, depth + 1) for child in element)


def parse_untrusted_xml(data: bytes, *, max_bytes: int = MAX_XML_BYTES,
                        max_depth: int = MAX_XML_DEPTH) -> etree._Element:
    """The document's root element, or `DecodeError` saying what was refused and why."""
    if not isinstance(data, bytes):
        raise DecodeError("XML must be given as bytes (the document declares its encoding)")
    if len(data) > max_bytes:
        raise DecodeError(f"XML document is {len(data)} bytes; the limit is {max_bytes}")
    # Refuse any DOCTYPE before parsing: a document type is how entity attacks start, and
    # no message in our contracts has one. (lxml also reports it in docinfo, checked below.)
    head = data[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in data.lower():
        raise DecodeError("XML with a DOCTYPE or ENTITY declaration is refused")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        if "depth" in str(exc.msg).lower():  # libxml2's own nesting cap (256) tripped first
            raise DecodeError(f"XML nests deeper than {max_depth} elements") from None
        raise DecodeError(f"XML is not well-formed: {exc.msg} (line {exc.lineno})") from None
    if root.getroottree().docinfo.doctype:
        raise DecodeError("XML with a DOCTYPE is refused")
    _check_depth(root, max_depth)
    return root
