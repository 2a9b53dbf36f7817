"""Hostile XML is refused before it can reach out or expand."""

from __future__ import annotations

import pytest

from engine.errors import DecodeError
from engine.safexml import parse_untrusted_xml


class TestParseUntrustedXml:
    def test_plain_document_parses(self):
        """A plain namespaced document parses to its root element."""
        root = parse_untrusted_xml(b'<a xmlns="urn:x"><b>1</b></a>')
        assert root.tag == "{urn:x}a"

    def test_xxe_is_refused(self):
        """An external entity (XXE) is refused, not resolved."""
        doc = (b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
               b"<a>&x;</a>")
        with pytest.raises(DecodeError, match="DOCTYPE"):
            parse_untrusted_xml(doc)

    def test_billion_laughs_is_refused(self):
        """Nested entity expansion (billion laughs) is refused."""
        ents = "".join(f'<!ENTITY l{i} "&l{i-1};&l{i-1};">' for i in range(1, 10))
        doc = f'<!DOCTYPE a [<!ENTITY l0 "lol">{ents}]><a>&l9;</a>'.encode()
        with pytest.raises(DecodeError):
            parse_untrusted_xml(doc)

    def test_doctype_late_in_a_long_prolog_is_refused(self):
        """A DOCTYPE pushed past the sniffed head by a long comment is still refused."""
        doc = b"<!--" + b"x" * 10_000 + b"--><!DOCTYPE a><a/>"
        with pytest.raises(DecodeError, match="DOCTYPE"):
            parse_untrusted_xml(doc)

    def test_oversized_document_is_refused(self):
        """A document over the byte cap is refused unparsed."""
        with pytest.raises(DecodeError, match="limit"):
            parse_untrusted_xml(b"<a>" + b"x" * 100 + b"</a>", max_bytes=50)

    def test_deep_nesting_is_refused(self):
        """Elements nested past the depth cap are refused."""
        doc = b"<a>" * 100 + b"</a>" * 100
        with pytest.raises(DecodeError, match="deeper"):
            parse_untrusted_xml(doc, max_depth=64)

    def test_malformed_document_names_the_line(self):
        """Broken XML gives an error naming the line."""
        with pytest.raises(DecodeError, match="line"):
            parse_untrusted_xml(b"<a>\n<b></a>")
