"""Rendering orders as CLETS messages: layout limits hold for any name, failures name fields."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from engine.canonical import decode_order
from engine.clets import default_layout, render_clets, validate_clets
from engine.errors import RenderError
from engine.formats import RenderContext
from engine.model import Action, IdentifierKind, Order, PersonName, ServiceStatus
from tests.conftest import FIXTURES
from tests.strategies import orders

BASE = decode_order((FIXTURES / "orders" / "dv_tro_issue.json").read_bytes())
CTX = RenderContext(mcn="MCN-PROP-1", sent_at=dt.datetime(2026, 11, 23, tzinfo=dt.UTC),
                    doj_record_id="H000012345")
LAYOUT = default_layout()

_letters = st.characters(categories=("Lu", "Ll", "Lt", "Lm", "Lo"))
_tail = st.one_of(_letters, st.characters(categories=("Mn", "Mc")),
                  st.sampled_from(list(" '\u2019.-")))
_latin = st.sampled_from([chr(c) for c in range(0xC0, 0x180) if chr(c).isalpha()]
                         + list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))


def _parts(head: st.SearchStrategy[str], tail: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(lambda h, t: h + "".join(t), head, st.lists(tail, max_size=40))


@st.composite
def person_names(draw, head=_letters, tail=_tail) -> PersonName:
    """Any PersonName the model accepts, parts built from ``head`` and ``tail`` characters."""
    part = _parts(head, tail)
    try:
        return PersonName(surname=draw(part), given=draw(st.none() | part),
                          middle=draw(st.none() | part),
                          suffix=draw(st.none() | st.sampled_from(["JR", "SR", "III"])))
    except ValidationError:
        assume(False)
        raise


def _with_names(restrained: PersonName, protected: PersonName, action: Action) -> Order:
    person = BASE.restrained_persons[0].model_copy(update={"name": restrained,
                                                           "aliases": (protected,)})
    victim = BASE.protected_persons[0].model_copy(update={"name": protected})
    return BASE.model_copy(update={"restrained_persons": (person,),
                                   "protected_persons": (victim, BASE.protected_persons[1]),
                                   "action": action,
                                   "version": 1 if action is Action.ISSUE else 2})


def _assert_fields_within_layout(body: bytes) -> None:
    for line in body.decode("ascii").splitlines():
        if line == LAYOUT.supplemental_marker:
            continue
        mnemonic, _, value = line.partition(LAYOUT.value_separator)
        spec = LAYOUT.fields[mnemonic]
        assert len(value) <= spec.max_length, mnemonic
        assert set(value) <= spec.charset, mnemonic


class TestAnyName:
    @settings(max_examples=150, suppress_health_check=[HealthCheck.filter_too_much])
    @given(person_names(), person_names(), st.sampled_from([Action.ISSUE, Action.MODIFY]))
    def test_fields_stay_in_layout_or_the_name_is_named(self, restrained, protected, action):
        """For any names, every field fits its length and set, or the error names the name."""
        order = _with_names(restrained, protected, action)
        try:
            rendered = render_clets(order, CTX)
        except RenderError as exc:
            assert exc.errors
            for error in exc.errors:
                assert error.path.endswith(".name") or ".aliases." in error.path, error
                assert "bad character" in error.reason
            return
        _assert_fields_within_layout(rendered.body)
        assert validate_clets(rendered.body, action) == []

    @settings(max_examples=150)
    @given(person_names(_latin, st.one_of(_latin, st.sampled_from(list(" '-.")))),
           person_names(_latin, _latin))
    def test_latin_names_always_render(self, restrained, protected):
        """Names in Latin letters (any accents) always render, within the layout's limits."""
        rendered = render_clets(_with_names(restrained, protected, Action.ISSUE), CTX)
        _assert_fields_within_layout(rendered.body)

    @settings(max_examples=100)
    @given(person_names(_latin, _latin))
    def test_warnings_never_carry_the_name(self, name):
        """Warnings name fields and paths, never the person's name."""
        assume(len(name.surname) >= 4)
        rendered = render_clets(_with_names(name, name, Action.ISSUE), CTX)
        upper = name.surname.upper()
        for warning in rendered.warnings:
            assert name.surname not in warning and upper not in warning


class TestRender:
    def test_content_type_and_key(self):
        """An entry is a text/plain message whose first line is the EPO key."""
        rendered = render_clets(BASE, CTX)
        assert rendered.content_type == "text/plain"
        assert rendered.body.startswith(b"MKE/EPO\n")

    @pytest.mark.parametrize("action", [a for a in Action if a is not Action.ISSUE])
    def test_later_actions_need_the_record_id(self, action):
        """Every action after the entry is refused without the entry's DOJ record id."""
        order = BASE.model_copy(update={"action": action, "version": 2})
        ctx = RenderContext(mcn="M-1", sent_at=CTX.sent_at)
        with pytest.raises(RenderError) as caught:
            render_clets(order, ctx)
        assert [e.path for e in caught.value.errors] == ["context.doj_record_id"]
        assert "NIC" in caught.value.errors[0].reason

    @pytest.mark.parametrize("action", [a for a in Action if a is not Action.ISSUE])
    def test_later_actions_carry_the_record_id(self, action):
        """Every action after the entry carries the record id as its NIC line."""
        served = BASE.service.model_copy(update={"status": ServiceStatus.SERVED,
                                                 "served_at": BASE.issued_at})
        order = BASE.model_copy(update={"action": action, "version": 2, "service": served})
        body = render_clets(order, CTX).body.decode()
        assert "\nNIC/H000012345\n" in body

    def test_entry_has_no_record_id(self):
        """An entry carries no NIC even when the context has one."""
        assert b"NIC/" not in render_clets(BASE, CTX).body

    def test_bad_control_number_names_the_context(self):
        """An MCN outside its character set is refused, naming context.mcn and the rule."""
        ctx = RenderContext(mcn="MCN 1/2", sent_at=CTX.sent_at)
        with pytest.raises(RenderError) as caught:
            render_clets(BASE, ctx)
        assert [(e.path, e.reason) for e in caught.value.errors] == [
            ("context.mcn", "MCN: bad character: outside the mcn set")]

    def test_two_restrained_persons_are_refused(self):
        """An order restraining two people is refused, naming restrained_persons."""
        order = BASE.model_copy(update={"restrained_persons": BASE.restrained_persons * 2})
        with pytest.raises(RenderError) as caught:
            render_clets(order, CTX)
        assert caught.value.errors[0].path == "restrained_persons"

    def test_long_miscellaneous_is_truncated_with_a_warning(self):
        """Text beyond MIS's length is cut to the limit and a warning says so, without it."""
        order = BASE.model_copy(update={"miscellaneous": "Keep away from the park. " * 40})
        rendered = render_clets(order, CTX)
        mis = [ln for ln in rendered.body.decode().splitlines() if ln.startswith("MIS/")]
        assert len(mis[0]) - len("MIS/") <= LAYOUT.fields["MIS"].max_length
        assert any(w.startswith("MIS: truncated") and "PARK" not in w.upper()
                   for w in rendered.warnings)

    def test_untransliterable_name_is_refused_with_its_path(self):
        """A name with no Latin spelling is refused, naming its path and the rule."""
        victim = BASE.protected_persons[0].model_copy(
            update={"name": PersonName(surname="王", given="小明")})
        order = BASE.model_copy(update={"protected_persons": (victim,)})
        with pytest.raises(RenderError) as caught:
            render_clets(order, CTX)
        errors = {e.path: e.reason for e in caught.value.errors}
        assert "protected_persons.0.name" in errors
        assert errors["protected_persons.0.name"].startswith("PPN: bad character")
        assert "王" not in str(caught.value)

    def test_overlong_case_number_is_refused_not_cut(self):
        """A case number longer than OCA is refused (too long), never silently cut."""
        order = BASE.model_copy(update={"case_number": "A" * 30})
        with pytest.raises(RenderError) as caught:
            render_clets(order, CTX)
        assert caught.value.errors[0].path == "case_number"
        assert caught.value.errors[0].reason.startswith("OCA: too long")

    def test_missing_conditions_fail_the_required_rule(self):
        """An entry without any condition code is refused: PCO missing required, at conditions."""
        order = BASE.model_copy(update={"conditions": ()})
        with pytest.raises(RenderError) as caught:
            render_clets(order, CTX)
        assert [(e.path, e.reason) for e in caught.value.errors] == [
            ("conditions", "PCO: missing required")]

    def test_no_expiration_renders_nonexp(self):
        """An order without an expiration date renders EXP/NONEXP."""
        order = BASE.model_copy(update={"expiration_date": None})
        assert b"\nEXP/NONEXP\n" in render_clets(order, CTX).body

    def test_uncarried_identifier_is_a_warning(self):
        """An identifier no field carries (passport) is named in a warning by its path."""
        person = BASE.restrained_persons[0]
        passport = person.identifiers[0].model_copy(update={"kind": IdentifierKind.PASSPORT})
        order = BASE.model_copy(update={"restrained_persons": (
            person.model_copy(update={"identifiers": (*person.identifiers, passport)}),)})
        warnings = render_clets(order, CTX).warnings
        assert "identifier not carried by the EPO message (restrained_persons.0.identifiers.1)" \
            in warnings

    def test_layout_change_changes_the_message(self, tmp_path):
        """A state's layout edit (a shorter NAM) changes the output without code changes."""
        from engine.clets import load_layout
        from engine.clets.layout import DEFAULT_LAYOUT_PATH

        text = DEFAULT_LAYOUT_PATH.read_text(encoding="utf-8")
        path = tmp_path / "layout.yaml"
        path.write_text(text.replace("source: restrained.name,\n        max_length: 30",
                                     "source: restrained.name,\n        max_length: 12"),
                        encoding="utf-8")
        rendered = render_clets(BASE, CTX, load_layout(path))
        # OBRIEN,PATRICK SEAN JR shortened the NCIC way: initials, then the middle dropped.
        assert b"\nNAM/OBRIEN,P JR\n" in rendered.body
        assert any(w.startswith("NAM: shortened to fit 12") for w in rendered.warnings)


class TestAnyOrder:
    @settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(orders())
    def test_renders_within_layout_or_blames_an_order_field(self, order):
        """Any valid order renders a valid in-layout message, or every error names an
        order field path (never a broken message the renderer itself produced)."""
        try:
            rendered = render_clets(order, CTX)
        except RenderError as exc:
            assert exc.errors
            mnemonics = set(LAYOUT.fields)
            for error in exc.errors:
                assert error.path not in mnemonics, error
                assert error.path.split(".")[0] in Order.model_fields or \
                    error.path.startswith("context."), error
            return
        _assert_fields_within_layout(rendered.body)
        assert validate_clets(rendered.body, order.action) == []
