"""Where each CLETS field's value comes from: named extractors over the canonical order.

The layout (`schemas/clets-layout.yaml`) refers to these by name (``source:
restrained.name``), so a state can rename, reorder, drop or re-type fields without code;
only a value the canonical order did not have before needs a new extractor here.

Each extractor returns ``(path, value)`` pairs: the path is the order's field path, used in
errors and warnings instead of the value. A single-valued field yields at most one pair;
repeating fields yield one per value; group fields yield one per group member, with
``None`` where that member has no value, so members stay aligned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine.clets.text import compound_surname_parts
from engine.formats import RenderContext
from engine.law.court_time import court_date
from engine.model import (
    IdentifierKind,
    Order,
    PersonIdentifier,
    PersonName,
    RestrainedPerson,
    ScarMarkTattoo,
)

__all__ = ["SOURCES", "SOURCE_PATHS", "SourceInput", "Value", "derived_aliases",
           "uncoded_marks", "unused_identifiers"]

Value = tuple[str, object]


@dataclass(frozen=True, slots=True)
class SourceInput:
    order: Order
    context: RenderContext
    key: str


Source = Callable[[SourceInput], list[Value]]


def _one(path: str, value: object) -> list[Value]:
    return [] if value is None else [(path, value)]


def _restrained(si: SourceInput) -> RestrainedPerson:
    return si.order.restrained_persons[0]


def _identifier(si: SourceInput, kind: IdentifierKind) -> tuple[int, PersonIdentifier] | None:
    for i, ident in enumerate(_restrained(si).identifiers):
        if ident.kind is kind:
            return i, ident
    return None


def _ident_value(kind: IdentifierKind) -> Source:
    def source(si: SourceInput) -> list[Value]:
        found = _identifier(si, kind)
        if found is None:
            return []
        i, ident = found
        return [(f"restrained_persons.0.identifiers.{i}.value", ident.value)]
    return source


def _oln_state(si: SourceInput) -> list[Value]:
    found = _identifier(si, IdentifierKind.DRIVERS_LICENSE)
    if found is None:
        return []
    return _one(f"restrained_persons.0.identifiers.{found[0]}.issuer", found[1].issuer)


def _oln_year(si: SourceInput) -> list[Value]:
    found = _identifier(si, IdentifierKind.DRIVERS_LICENSE)
    if found is None:
        return []
    return _one(f"restrained_persons.0.identifiers.{found[0]}.expires_year",
                found[1].expires_year)


#: Identifier kinds a field carries (the first of each kind); the rest get a warning.
CARRIED_IDENTIFIERS = {
    IdentifierKind.SSN: "restrained.ssn",
    IdentifierKind.DRIVERS_LICENSE: "restrained.oln",
    IdentifierKind.FBI_NUMBER: "restrained.fbi",
    IdentifierKind.STATE_ID_NUMBER: "restrained.cii",
}


def unused_identifiers(order: Order, used_sources: set[str]) -> list[str]:
    """Paths of the restrained person's identifiers no field of this message carries."""
    seen: set[IdentifierKind] = set()
    paths = []
    for i, ident in enumerate(order.restrained_persons[0].identifiers):
        source = CARRIED_IDENTIFIERS.get(ident.kind)
        if source is None or source not in used_sources or ident.kind in seen:
            paths.append(f"restrained_persons.0.identifiers.{i}")
        seen.add(ident.kind)
    return paths


def _smt_codes(si: SourceInput) -> list[Value]:
    """The NCIC SMT codes of the marks the court coded; described marks go in MIS."""
    return [(f"restrained_persons.0.scars_marks_tattoos.{i}.code", mark.code)
            for i, mark in enumerate(_restrained(si).scars_marks_tattoos)
            if isinstance(mark, ScarMarkTattoo)]


def uncoded_marks(order: Order) -> list[str]:
    """Paths of the marks (or the words beside a code) that travel in MIS, not SMT."""
    return [f"restrained_persons.0.scars_marks_tattoos.{i}"
            for i, mark in enumerate(order.restrained_persons[0].scars_marks_tattoos)
            if not isinstance(mark, ScarMarkTattoo) or mark.description]


def _miscellaneous(si: SourceInput) -> list[Value]:
    """The order's own terms, then every mark described in words (``SMT TAT R HND: 415``,
    ``SMT: scar left cheek``): a described fact is kept, never dropped or made a code."""
    parts = [si.order.miscellaneous] if si.order.miscellaneous else []
    for mark in _restrained(si).scars_marks_tattoos:
        if isinstance(mark, ScarMarkTattoo):
            if mark.description:
                parts.append(f"SMT {mark.code}: {mark.description}")
        else:
            parts.append(f"SMT: {mark}")
    return _one("miscellaneous", "; ".join(parts) if parts else None)


def derived_aliases(order: Order) -> list[PersonName]:
    """The restrained person's name with each part of a compound surname, not already an
    alias the court gave (NCIC Personal Descriptors 2.2)."""
    person = order.restrained_persons[0]
    return [n for n in compound_surname_parts(person.name) if n not in person.aliases]


def _aliases(si: SourceInput) -> list[Value]:
    given: list[Value] = [(f"restrained_persons.0.aliases.{i}", a)
                          for i, a in enumerate(_restrained(si).aliases)]
    return given + [("restrained_persons.0.name", n) for n in derived_aliases(si.order)]


def _local_date(si: SourceInput, instant: object) -> object:
    assert instant is not None
    return court_date(si.order.court.ori, instant)  # type: ignore[arg-type]


def _restrained_attr(attr: str) -> Source:
    return lambda si: _one(f"restrained_persons.0.{attr}", getattr(_restrained(si), attr))


def _protected_attr(attr: str) -> Source:
    return lambda si: [(f"protected_persons.{i}.{attr}", getattr(p, attr))
                       for i, p in enumerate(si.order.protected_persons)]


SOURCES: dict[str, Source] = {
    "message.key": lambda si: [("action", si.key)],
    "context.mcn": lambda si: [("context.mcn", si.context.mcn)],
    "context.doj_record_id": lambda si: _one("context.doj_record_id", si.context.doj_record_id),
    "court.ori": lambda si: [("court.ori", si.order.court.ori)],
    "order.order_id": lambda si: [("order_id", si.order.order_id)],
    "restrained.name": _restrained_attr("name"),
    "restrained.sex": _restrained_attr("sex"),
    "restrained.race": _restrained_attr("race"),
    "restrained.ethnicity": _restrained_attr("ethnicity"),
    "restrained.birth_date": _restrained_attr("birth_date"),
    "restrained.height_inches": _restrained_attr("height_inches"),
    "restrained.weight_pounds": _restrained_attr("weight_pounds"),
    "restrained.eye_color": _restrained_attr("eye_color"),
    "restrained.hair_color": _restrained_attr("hair_color"),
    "restrained.skin_tone": _restrained_attr("skin_tone"),
    "restrained.smt": _smt_codes,
    "restrained.aliases": _aliases,
    "restrained.ssn": _ident_value(IdentifierKind.SSN),
    "restrained.oln": _ident_value(IdentifierKind.DRIVERS_LICENSE),
    "restrained.ols": _oln_state,
    "restrained.oly": _oln_year,
    "restrained.fbi": _ident_value(IdentifierKind.FBI_NUMBER),
    "restrained.cii": _ident_value(IdentifierKind.STATE_ID_NUMBER),
    "order.protected_persons": lambda si: [(f"protected_persons.{i}", p)
                                           for i, p in enumerate(si.order.protected_persons)],
    "protected.name": _protected_attr("name"),
    "protected.sex": _protected_attr("sex"),
    "protected.race": _protected_attr("race"),
    "protected.birth_date": _protected_attr("birth_date"),
    "order.order_type": lambda si: [("order_type", si.order.order_type)],
    "order.conditions": lambda si: [(f"conditions.{i}.code", c.code)
                                    for i, c in enumerate(si.order.conditions)],
    "order.brady": lambda si: [("firearms.brady_indicator",
                                str(si.order.firearms.brady_indicator).lower())],
    # Every date is the court's own (engine.law.court_time), whatever offset was sent.
    "order.issued_date": lambda si: [("issued_at", _local_date(si, si.order.issued_at))],
    # None is meaningful here (no expiration): the field's none_value renders it.
    "order.expiration_date": lambda si: [("expiration_date", si.order.expiration_date)],
    "order.case_number": lambda si: [("case_number", si.order.case_number)],
    "order.miscellaneous": _miscellaneous,
    "service.date": lambda si: _one("service.served_at",
                                    _local_date(si, si.order.service.served_at)
                                    if si.order.service.served_at else None),
}

#: The order path a source reads, for "missing required" errors when it yields nothing.
SOURCE_PATHS: dict[str, str] = {
    "context.doj_record_id": "context.doj_record_id",
    "order.conditions": "conditions",
    "order.miscellaneous": "miscellaneous",
    "service.date": "service.served_at",
    "restrained.smt": "restrained_persons.0.scars_marks_tattoos",
    "restrained.aliases": "restrained_persons.0.aliases",
    "restrained.ssn": "restrained_persons.0.identifiers",
    "restrained.oln": "restrained_persons.0.identifiers",
    "restrained.ols": "restrained_persons.0.identifiers",
    "restrained.oly": "restrained_persons.0.identifiers",
    "restrained.fbi": "restrained_persons.0.identifiers",
    "restrained.cii": "restrained_persons.0.identifiers",
    **{f"restrained.{attr}": f"restrained_persons.0.{attr}"
       for attr in ("birth_date", "height_inches", "weight_pounds", "eye_color",
                    "hair_color", "skin_tone", "ethnicity")},
    **{f"protected.{attr}": "protected_persons"
       for attr in ("name", "sex", "race", "birth_date")},
}
