"""Parse XML that came from outside without letting it reach out or blow up.

Every inbound XML document (NIEM filings, ECF-style CMS exports, DOJ acknowledgements)
goes through `parse_untrusted_xml`: no DOCTYPE of any kind (so no entities, no XXE, no
billion laughs), no network, no DTD loading, a byte-size cap and an element-depth cap.
"""

from __future__ import annotations

from lxml import etree

from engine.errors import DecodeError

__all__ = ["MAX_XML_BYTES", "MAX_XML_DEPTH", "parse_untrusted_xml"]

#: A protective-order document is tens of kilobytes; an attached image is a reference.
MAX_XML_BYTES = 2_000_000
#: NIEM protection orders nest about 10 deep; far above that is an attack or an error.
MAX_XML_DEPTH = 64


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
