"""The order a NIEM document can carry: identifiers grouped by kind, each kind in its order.

NIEM writes each identifier kind as its own element (nc:PersonType: passport, SSN, state
identification; j:PersonAugmentationType: driver license, FBI, state fingerprint), and
structures:sequenceID orders only siblings, so the order across kinds is not carried. The
order within a kind is (its first is the primary one). Round-trip tests compare with this.
"""

from __future__ import annotations

from engine.model import IdentifierKind, Order

#: Element order of the identifier kinds in nc:PersonType and j:PersonAugmentationType.
NIEM_KIND_ORDER = (IdentifierKind.PASSPORT, IdentifierKind.SSN, IdentifierKind.STATE_ID,
                   IdentifierKind.DRIVERS_LICENSE, IdentifierKind.FBI_NUMBER,
                   IdentifierKind.STATE_ID_NUMBER)


def as_niem_carries(order: Order) -> Order:
    """`order` with each restrained person's identifiers stably grouped by kind."""
    persons = tuple(
        person.model_copy(update={"identifiers": tuple(sorted(
            person.identifiers, key=lambda ident: NIEM_KIND_ORDER.index(ident.kind)))})
        for person in order.restrained_persons)
    return order.model_copy(update={"restrained_persons": persons})
