"""The canonical order fixtures cover what the other areas need to test against: every order
type and action, names that need care, minors, missing birth dates, several protected persons."""

from __future__ import annotations

from collections import defaultdict

import pytest

from engine.canonical import decode_order
from engine.model import Action, Order, OrderType
from tests.conftest import ORDER_FIXTURES


@pytest.fixture(scope="module")
def all_orders() -> dict[str, Order]:
    return {path.name: decode_order(path.read_bytes()) for path in ORDER_FIXTURES}


def _names(order: Order):
    for person in order.restrained_persons:
        yield person.name
        yield from person.aliases
    for person in order.protected_persons:
        yield person.name


class TestFixtureCoverage:
    def test_there_are_at_least_twelve_orders(self, all_orders):
        """The issue asks for at least 12 realistic canonical orders."""
        assert len(all_orders) >= 12

    def test_every_order_type_appears(self, all_orders):
        """Each California order type has at least one fixture."""
        assert {o.order_type for o in all_orders.values()} == set(OrderType)

    def test_every_action_appears(self, all_orders):
        """Each action (issue, modify, extend, terminate, cancel, serve) has a fixture."""
        assert {o.action for o in all_orders.values()} == set(Action)

    @pytest.mark.parametrize("part", ["O'Brien", "García-López", "Nguyễn", "\u2019"])
    def test_names_that_need_care_appear(self, all_orders, part):
        """Apostrophes (both kinds), hyphens and accents appear in some fixture's names."""
        surnames = {n.surname for o in all_orders.values() for n in _names(o)}
        assert any(part in s for s in surnames)

    def test_suffixes_and_single_legal_names_appear(self, all_orders):
        """Some names carry a suffix (JR, III, ...) and some are a single legal name."""
        names = [n for o in all_orders.values() for n in _names(o)]
        assert {"JR", "III"} <= {n.suffix for n in names}
        assert any(n.given is None and n.middle is None for n in names)

    def test_minors_missing_birth_dates_and_several_protected_persons_appear(self, all_orders):
        """Fixtures include a minor child, a person with no known DOB, and multi-person orders."""
        orders = list(all_orders.values())
        assert any(p.is_minor for o in orders for p in o.protected_persons)
        assert any(p.birth_date is None for o in orders for p in o.restrained_persons)
        assert any(p.birth_date is None for o in orders for p in o.protected_persons)
        assert any(len(o.protected_persons) >= 3 for o in orders)

    def test_optional_parts_appear_present_and_absent(self, all_orders):
        """Images, identifiers, aliases and expiration dates are both present and absent."""
        orders = list(all_orders.values())
        for present in (
            lambda o: o.image is not None,
            lambda o: o.expiration_date is not None,
            lambda o: any(p.identifiers for p in o.restrained_persons),
            lambda o: any(p.aliases for p in o.restrained_persons),
        ):
            assert any(present(o) for o in orders)
            assert not all(present(o) for o in orders)


class TestFixtureVersions:
    def test_versions_of_one_order_agree_on_identity(self, all_orders):
        """Every version of one order keeps its case number, type and court."""
        by_key: dict[str, list[Order]] = defaultdict(list)
        for order in all_orders.values():
            by_key[order.key].append(order)
        assert any(len(v) >= 4 for v in by_key.values())  # the DV TRO's life cycle
        for versions in by_key.values():
            assert len({(o.case_number, o.order_type, o.court) for o in versions}) == 1
            assert len({o.version for o in versions}) == len(versions)

    def test_later_versions_are_issued_after_earlier_ones(self, all_orders):
        """A later version of an order is never issued before an earlier one."""
        by_key: dict[str, list[Order]] = defaultdict(list)
        for order in all_orders.values():
            by_key[order.key].append(order)
        for versions in by_key.values():
            versions.sort(key=lambda o: o.version)
            times = [o.issued_at for o in versions]
            assert times == sorted(times)
