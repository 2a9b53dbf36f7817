"""The compiled NIEM message and acknowledgement schemas, and validation that names paths.

Compiling the subset takes milliseconds and validating a document far less, so each schema
is compiled once per process (on first use) and reused for every document. Errors come back
as `FieldError(element path, libxml2 message)` with any quoted *value* removed from the
message: a rejected surname must never reach a log line.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from lxml import etree

from engine import resources
from engine.errors import FieldError
from engine.niem.namespaces import NS

__all__ = [
    "ACK_SCHEMA_PATH",
    "MESSAGE_SCHEMA_PATH",
    "SCHEMA_DIR",
    "CompiledSchema",
    "ack_schema",
    "message_schema",
]

#: The NIEM subset, extension and message schemas shipped in the package (engine.resources).
SCHEMA_DIR = resources.path("schemas/niem")
MESSAGE_SCHEMA_PATH = SCHEMA_DIR / "message" / "pox-message.xsd"
#: The acknowledgement shares the message namespace, hence its one schema document.
ACK_SCHEMA_PATH = MESSAGE_SCHEMA_PATH

# libxml2 quotes the offending value in these message shapes; everything else it quotes is
# a schema name (element, type, facet), which is safe and useful to keep.
_VALUE_PATTERNS = (
    re.compile(r"(The value )'.*?'(?= (?:is|has) )", re.DOTALL),
    re.compile(r"(: )'.*?'(?= is not a valid value)", re.DOTALL),
)


def _readable(message: str) -> str:
    for pattern in _VALUE_PATTERNS:
        message = pattern.sub(r"\1[value withheld]", message)
    for prefix, uri in NS.items():  # {urn:...}Name -> prefix:Name, as the contract writes it
        message = message.replace("{" + uri + "}", prefix + ":")
    return message


@dataclass
class CompiledSchema:
    """One compiled XML Schema; `errors` validates a document and explains what is wrong."""

    path: Path
    schema: etree.XMLSchema
    # lxml does not promise that one XMLSchema may validate on two threads at once; the
    # lock keeps a threaded transmitter correct at the cost of serialising validation.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def errors(self, doc: etree._Element) -> list[FieldError]:
        """Every way the document breaks the schema, as element path + value-free message."""
        with self._lock:
            if self.schema.validate(doc):
                return []
            log = list(self.schema.error_log)
        return [FieldError(entry.path or "/", _readable(entry.message)) for entry in log]


@cache
def _compile(path: Path) -> CompiledSchema:
    # The schema files are ours, read from disk; even so, no network and no DTDs.
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    return CompiledSchema(path, etree.XMLSchema(etree.parse(str(path), parser=parser)))


def message_schema() -> CompiledSchema:
    """The protection-order message schema (wrapper, NIEM subset, extension), compiled once."""
    return _compile(MESSAGE_SCHEMA_PATH)


def ack_schema() -> CompiledSchema:
    """The acknowledgement schema, compiled once."""
    return _compile(ACK_SCHEMA_PATH)
