"""Declarative court mappings: a court's CMS export (JSON, XML, CSV, record-oriented text)
to the canonical order.

A court integration team writes a YAML mapping (see docs/mapping-guide.md) instead of code;
`load_mapping` checks it against the canonical model at load, `Mapping.apply` maps one
message. `engine mapping test` runs a mapping's example cases, Benthos style.

May import: `engine.canonical`, the law, the config and the top-level value modules
(model, formats, errors, safexml, resources). Not the other formats, a stage or the CLI.
"""

from engine.errors import MappingError
from engine.mappings.mapping import Mapping, load_mapping

__all__ = ["Mapping", "MappingError", "load_mapping"]
