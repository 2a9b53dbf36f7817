"""The XML namespaces of the NIEM message, their prefixes, and Clark-notation names.

One place for every namespace URI so the renderer, the reader, the acknowledgement code and
the contract document agree; `q("nc", "PersonName")` gives ``{uri}PersonName`` for lxml.
"""

from __future__ import annotations

from functools import cache

__all__ = ["DEFAULT_RECIPIENT", "IEPD_VERSION", "NS", "NSMAP", "q"]

#: Version of the IEPD (schemas/niem/: schemas, samples, mapping, catalog) every message
#: names in pox:IEPDVersionID; schemas/niem/changelog.md says what each version changed.
IEPD_VERSION = "1.2.0"
#: pox:MessageRecipientID when the destination names none. Assumption (no public DOJ
#: interface spec names one): the CARPOS registry of the California DOJ.
DEFAULT_RECIPIENT = "CA-DOJ-CARPOS"

#: Prefix -> namespace URI for everything our documents use.
NS: dict[str, str] = {
    "pox": "urn:ca-courts:po-exchange:message:1.0",
    "pox-ext": "urn:ca-courts:po-exchange:extension:1.0",
    "nc": "http://release.niem.gov/niem/niem-core/5.0/",
    "j": "http://release.niem.gov/niem/domains/jxdm/7.2/",
    "ncic": "http://release.niem.gov/niem/codes/ncic/5.2/",
    "structures": "http://release.niem.gov/niem/structures/5.0/",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}

#: The prefixes declared on the root of every document we write.
NSMAP: dict[str | None, str] = {prefix: uri for prefix, uri in NS.items()}


@cache
def q(prefix: str, local: str) -> str:
    """The Clark-notation name ``{namespace}local`` of a prefixed name."""
    return f"{{{NS[prefix]}}}{local}"
