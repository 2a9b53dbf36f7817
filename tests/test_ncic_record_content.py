"""What reaches NCIC is what the NCIC Protection Order File (POF) rules say (issue 16, items
6-10 and 14). Each test is written from the rule, cited in its docstring, not from our output:

- NCIC 2000 Operating Manual, Personal Descriptors 2.1 (NAM, AKA, PPN: at most 30
  characters, surname first then a comma, given names after) and 2.2 (compound surnames:
  each part also entered so a search on either finds the person);
- Personal Descriptors 4 / ncic-codes-5.0.1.xsd RACECodeSimpleType (A Asian, P Native
  Hawaiian or Other Pacific Islander) and ETNCodeSimpleType (H Hispanic or Latino, N not);
- Personal Descriptors 13 / ncic-codes-niem2.1-fbi.xsd SMTCodeSimpleType (SMT codes);
- POF 2.3 mandatory fields for entry: a date of birth or a numeric identifier, and the
  protection order number (PNO).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from engine.canonical import decode_order, encode_order, order_from_dict, order_to_dict
from engine.clets import render_clets
from engine.clets.layout import default_layout
from engine.clets.text import format_ncic_name, transliterate
from engine.errors import InputError, RenderError
from engine.formats import RenderContext
from engine.model import Action, Order, PersonName
from engine.niem import read_niem, render_niem
from tests.conftest import FIXTURES, SHARED_REFERENCE
from tests.strategies import orders

CTX = RenderContext(mcn="MCN-NCIC-0001", sent_at=dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC))
LATER = RenderContext(mcn="MCN-NCIC-0002", sent_at=CTX.sent_at, doj_record_id="H000012345")
ROOT = Path(__file__).parent.parent
DV_TRO = FIXTURES / "orders" / "dv_tro_issue.json"
NAME_LIMIT = 30  # Personal Descriptors 2.1: NAM, AKA and PPN carry at most 30 characters


def _order(**changes: object) -> Order:
    data = json.loads(DV_TRO.read_text())
    for path, value in changes.items():
        target = data
        *parents, leaf = path.split("__")
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        if value is None:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    return order_from_dict(data)


def _lines(order: Order, ctx: RenderContext = CTX) -> list[str]:
    return render_clets(order, ctx).body.decode("ascii").splitlines()


def _values(lines: list[str], mnemonic: str) -> list[str]:
    return [line.split("/", 1)[1] for line in lines if line.startswith(mnemonic + "/")]


def _ncic_enumeration(file: str, simple_type: str) -> set[str]:
    tree = etree.parse(str(SHARED_REFERENCE / file))
    return set(tree.xpath(f"//*[local-name()='simpleType'][@name='{simple_type}']"
                          "//*[local-name()='enumeration']/@value"))


# ---------------------------------------------------------------- item 6: race and ethnicity

class TestRaceAndEthnicity:
    def test_asian_and_pacific_islander_are_two_ncic_codes(self):
        """NCIC RAC: A is Asian, P is Native Hawaiian or Other Pacific Islander."""
        reference = _ncic_enumeration("ncic-codes-5.0.1.xsd", "RACECodeSimpleType")
        assert {"A", "P"} <= reference
        asian = _order(restrained_persons__0__race="asian")
        islander = _order(restrained_persons__0__race="native_hawaiian_pacific_islander")
        assert _values(_lines(asian), "RAC") == ["A"]
        assert _values(_lines(islander), "RAC") == ["P"]

    def test_protected_person_race_p_is_sent_as_p(self):
        """PPR uses the same RAC code table (Personal Descriptors 4)."""
        order = _order(protected_persons__0__race="native_hawaiian_pacific_islander")
        assert _values(_lines(order), "PPR")[0] == "P"

    def test_old_joined_value_is_read_but_never_guessed(self):
        """The deprecated asian_pacific_islander still decodes, but is neither A nor P:
        it goes as U (unknown) with a warning that says why."""
        order = _order(restrained_persons__0__race="asian_pacific_islander")
        rendered = render_clets(order, CTX)
        lines = rendered.body.decode("ascii").splitlines()
        assert _values(lines, "RAC") == ["U"]
        assert any("deprecated" in w and "restrained_persons.0.race" in w
                   for w in rendered.warnings)

    def test_ethnicity_is_its_own_field(self):
        """NCIC ETN: H Hispanic or Latino, N Not Hispanic or Latino; race stays a race."""
        reference = _ncic_enumeration("ncic-codes-5.0.1.xsd", "ETNCodeSimpleType")
        order = _order(restrained_persons__0__ethnicity="hispanic")
        lines = _lines(order)
        assert _values(lines, "ETN") == ["H"]
        assert set(_values(lines, "ETN")) <= reference
        assert _values(lines, "RAC") == ["W"]  # the fixture's race is unchanged
        not_hispanic = _order(restrained_persons__0__ethnicity="not_hispanic")
        assert _values(_lines(not_hispanic), "ETN") == ["N"]

    def test_niem_carries_race_p_and_ethnicity_both_ways(self):
        """The NIEM document is valid and reads back the same race and ethnicity."""
        order = _order(restrained_persons__0__race="native_hawaiian_pacific_islander",
                       restrained_persons__0__ethnicity="hispanic")
        back = read_niem(render_niem(order, CTX).body)
        assert back.restrained_persons[0].race == order.restrained_persons[0].race
        assert back.restrained_persons[0].ethnicity == order.restrained_persons[0].ethnicity


# --------------------------------------------------------------------- item 7: names

LONG = {"surname": "Núñez-García de la Fuente y Villalobos", "given": "José María"}


def _fit(name: PersonName) -> tuple[str, bool]:
    spec = default_layout().fields["NAM"]
    fitted, steps = format_ncic_name(name, spec.charset, spec.drop_chars, spec.max_length)
    return fitted.text, bool(steps)


class TestNames:
    def test_long_name_keeps_given_initial_and_differs_from_a_single_name(self):
        """Personal Descriptors 2.1: surname, comma, then the given name (at least its
        initial): the long name must not look like a single-name person (NAM/MADONNA,)."""
        order = _order(restrained_persons__0__name=LONG)
        nam = _values(_lines(order), "NAM")[0]
        assert len(nam) <= NAME_LIMIT
        surname, _, given = nam.partition(",")
        assert given.startswith("J")
        assert "NUNEZ-GARCIA".startswith(surname[:12])

    def test_middle_becomes_an_initial_before_the_suffix_goes(self):
        """The middle name is cut to its initial first; the suffix is part of the name."""
        name = PersonName(surname="Washington-Barrington", given="Terrence",
                          middle="Alvin", suffix="III")
        text, truncated = _fit(name)
        assert truncated
        # In full 40 characters; the middle initial alone leaves 36; the given initial fits.
        assert text == "WASHINGTON-BARRINGTON,T A III"

    def test_middle_initial_is_the_only_change_when_it_is_enough(self):
        name = PersonName(surname="Hollingsworth-Park", given="Trevor", middle="Leopold")
        text, truncated = _fit(name)  # 33 characters in full
        assert (text, truncated) == ("HOLLINGSWORTH-PARK,TREVOR L", True)

    def test_compound_surname_parts_go_as_aka(self):
        """Personal Descriptors 2.2: each part of a compound surname is also entered (AKA),
        so an officer searching either surname finds the record."""
        order = _order(restrained_persons__0__name={"surname": "García-López", "given": "José"})
        akas = _values(_lines(order), "AKA")
        assert "GARCIA,JOSE" in akas and "LOPEZ,JOSE" in akas

    def test_protected_person_name_is_fitted_the_same_way(self):
        order = _order(protected_persons__0__name=LONG)
        ppn = _values(_lines(order), "PPN")[0]
        assert len(ppn) <= NAME_LIMIT and ppn.partition(",")[2].startswith("J")

    def test_every_truncation_is_a_warning_with_the_steps(self):
        """Each shortening is said (field, path, what was shortened), never the name."""
        order = _order(restrained_persons__0__name=LONG, protected_persons__0__name=LONG)
        warnings = render_clets(order, CTX).warnings
        nam = [w for w in warnings if w.startswith("NAM:")]
        ppn = [w for w in warnings if w.startswith("PPN:")]
        assert nam and ppn
        assert "given" in nam[0] and "surname" in nam[0]
        assert "restrained_persons.0.name" in nam[0]
        assert all("NUNEZ" not in w and "Núñez" not in w for w in warnings)

    def test_convert_shows_the_truncation(self, tmp_path):
        """`engine convert --to clets` and `engine clets render` say what was shortened."""
        data = json.loads(DV_TRO.read_text())
        data["restrained_persons"][0]["name"] = LONG
        path = tmp_path / "long.json"
        path.write_text(json.dumps(data))
        for args in (["convert", "--to", "clets", str(path)], ["clets", "render", str(path)]):
            done = subprocess.run([sys.executable, "-m", "engine", *args],
                                  capture_output=True, text=True, check=False, cwd=ROOT)
            assert done.returncode == 0, done.stderr
            assert "NAM:" in done.stderr and "shortened" in done.stderr


def _ascii_part() -> st.SearchStrategy[str]:
    word = st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyzéñü"),
                   min_size=1, max_size=18)
    return st.lists(word, min_size=1, max_size=4).map(" ".join) | st.builds(
        lambda a, b: f"{a}-{b}", word, word)


class TestNameFittingProperties:
    @settings(max_examples=300)
    @given(_ascii_part(), st.none() | _ascii_part(), st.none() | _ascii_part(),
           st.none() | st.sampled_from(["JR", "SR", "II", "III", "IV"]))
    def test_fitted_name_keeps_surname_prefix_given_initial_and_suffix(
            self, surname, given, middle, suffix):
        """For any name: at most 30 characters, the same answer twice, starting with the
        surname (or its first characters), the given initial right after the comma, and the
        suffix kept (Personal Descriptors 2.1)."""
        name = PersonName(surname=surname, given=given, middle=middle, suffix=suffix)
        first, _ = _fit(name)
        assert _fit(name)[0] == first
        assert len(first) <= NAME_LIMIT
        head, comma, tail = first.partition(",")
        assert comma
        full_surname = transliterate(surname).text
        assert head and full_surname.startswith(head)
        if given is not None:
            assert tail[:1] == transliterate(given).text[:1]
        if suffix is not None:
            assert tail.endswith(suffix)


# ---------------------------------------------------------------- item 8: the court's dates

class TestCourtLocalDates:
    FRIDAY_EVENING_UTC = "2026-11-21T01:30:00Z"  # Friday 2026-11-20 17:30 in Los Angeles

    def test_issue_date_is_the_courts_friday(self):
        order = _order(issued_at=self.FRIDAY_EVENING_UTC, effective_date="2026-11-20")
        assert _values(_lines(order), "ISD") == ["20261120"]

    def test_effective_date_of_that_friday_is_accepted(self):
        order = _order(issued_at=self.FRIDAY_EVENING_UTC, effective_date="2026-11-20")
        assert order.effective_date == dt.date(2026, 11, 20)  # decode_order raised nothing

    def test_service_date_is_the_courts_date(self):
        data = json.loads((FIXTURES / "orders" / "dv_tro_serve_v2.json").read_text())
        # Served 21:30 Friday in LA, proof filed 22:00 (a serve's issued_at is the filing,
        # which cannot come before the service): both Saturday in UTC.
        data["service"]["served_at"] = "2026-11-21T05:30:00Z"
        data["issued_at"] = "2026-11-21T06:00:00Z"
        order = order_from_dict(data)
        assert _values(_lines(order, LATER), "SVD") == ["20261120"]


# ---------------------------------------------------------------- item 9: entry fields

class TestEntryFields:
    def test_protection_order_number_is_sent(self):
        """POF: PNO, the protection order number the court gave the order."""
        order = _order()
        assert _values(_lines(order), "PNO") == ["LA-DV-2024-000123"]

    @pytest.mark.parametrize("action", ["issue", "modify"])
    def test_entry_without_dob_or_numeric_identifier_is_refused(self, action):
        """POF 2.3: an entry needs a date of birth or at least one numeric identifier."""
        order = _order(restrained_persons__0__birth_date=None,
                       restrained_persons__0__identifiers=[],
                       action=action, version=1 if action == "issue" else 2)
        with pytest.raises(RenderError) as caught:
            render_clets(order, LATER)
        assert any(e.path == "restrained_persons.0.birth_date" and "numeric identifier"
                   in e.reason for e in caught.value.errors)

    def test_a_numeric_identifier_is_enough(self):
        order = _order(restrained_persons__0__birth_date=None)  # still has a licence
        assert _values(_lines(order), "OLN")

    def test_every_fixture_entry_has_dob_or_numeric_identifier(self):
        carried = {"ssn", "drivers_license", "fbi_number", "cii"}
        for path in sorted((FIXTURES / "orders").glob("*.json")):
            order = decode_order(path.read_bytes())
            if order.action not in (Action.ISSUE, Action.MODIFY):
                continue
            person = order.restrained_persons[0]
            assert person.birth_date or {i.kind.value for i in person.identifiers} & carried, \
                path.name

    def test_smt_goes_as_ncic_codes(self):
        """SMT carries NCIC codes (Personal Descriptors 13); every SMT line in the rendered
        fixtures is a code of the NCIC SMT table."""
        table = _ncic_enumeration("ncic-codes-niem2.1-fbi.xsd", "SMTCodeSimpleType")
        order = _order(restrained_persons__0__scars_marks_tattoos=[
            {"code": "TAT R HND", "description": "415"}])
        assert _values(_lines(order), "SMT") == ["TAT R HND"]
        seen = 0
        for path in sorted((FIXTURES / "clets").glob("*.txt")):
            for value in _values(path.read_text().splitlines(), "SMT"):
                assert value in table, path.name
                seen += 1
        assert seen

    def test_smt_code_outside_the_ncic_form_is_refused(self):
        """An SMT code is upper-case letters and digits, up to three words (NCIC table)."""
        with pytest.raises(InputError) as caught:
            _order(restrained_persons__0__scars_marks_tattoos=[{"code": "left arm tattoo"}])
        paths = [e.path for e in caught.value.errors]
        assert "restrained_persons.0.scars_marks_tattoos.0.code" in paths

    def test_free_text_mark_is_not_sent_as_a_code(self):
        """A description without a code is not an SMT code: it goes in MIS, with a warning."""
        order = _order(restrained_persons__0__scars_marks_tattoos=["tattoo left forearm anchor"])
        rendered = render_clets(order, CTX)
        lines = rendered.body.decode("ascii").splitlines()
        assert _values(lines, "SMT") == []
        assert "TATTOO LEFT FOREARM ANCHOR" in _values(lines, "MIS")[0]
        assert any(w.startswith("SMT:") for w in rendered.warnings)

    def test_smt_codes_round_trip_through_niem(self):
        order = _order(restrained_persons__0__scars_marks_tattoos=[
            {"code": "TAT R HND", "description": "415"}, "scar left cheek"])
        back = read_niem(render_niem(order, CTX).body)
        assert back.restrained_persons[0].scars_marks_tattoos == \
            order.restrained_persons[0].scars_marks_tattoos


# ------------------------------------------------- item 10: check applies the renderers' rules

class TestCheckMatchesRendering:
    def test_check_refuses_what_render_refuses(self, tmp_path, capsys):
        """An order with no condition the law supplies: CLETS refuses it (PCO is required),
        so check does too. An out-of-state order, because for a California order type that
        prohibits firearms by statute condition 07 is derived and PCO is never empty."""
        from engine.cli import main

        data = json.loads((FIXTURES / "orders" / "out_of_state_issue.json").read_text())
        data["conditions"] = []
        path = tmp_path / "no_conditions.json"
        path.write_text(json.dumps(data))
        assert main(["check", str(path)]) == 1
        out = capsys.readouterr().out
        assert "INVALID" in out and "PCO: missing required" in out

    @settings(max_examples=60)
    @given(orders())
    def test_every_order_check_accepts_renders_for_every_destination_kind(self, order):
        """What `engine check` accepts, every destination kind (NIEM and CLETS) renders."""
        from engine.cli import main

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "order.json"
            path.write_text(encode_order(order), encoding="utf-8")
            with contextlib.redirect_stdout(io.StringIO()):
                accepted = main(["check", "--json", str(path)]) == 0
        if not accepted:
            return
        ctx = CTX if order.action is Action.ISSUE else LATER
        render_niem(order, ctx)
        render_clets(order, ctx)


# ------------------------------------------------------------ item 14 and the rules table

class TestDocumented:
    def test_nonbinary_and_unknown_sex_assumption_is_listed(self):
        """NCIC SEX has F, M, U only: nonbinary and unknown both go as U, a listed choice."""
        assert _ncic_enumeration("ncic-codes-5.0.1.xsd", "SEXCodeSimpleType") == {"F", "M", "U"}
        notes = dict(default_layout().assumptions())
        note = notes["tables.sex.nonbinary"]
        assert "unknown" in note and "U" in note

    def test_legal_rules_table_lists_each_ncic_rule_with_a_real_test(self):
        text = (ROOT / "docs" / "legal-rules.md").read_text()
        section = text.split("## NCIC record content", 1)[1].split("\n## ", 1)[0]
        rows = [r for r in section.splitlines() if r.startswith("|") and "---" not in r][1:]
        assert len(rows) >= 9
        this = Path(__file__).read_text()
        for row in rows:
            tests = re.findall(r"`(test_[a-z0-9_]+)`", row)
            assert tests, row
            for name in tests:
                assert f"def {name}(" in this or any(
                    f"def {name}(" in p.read_text() for p in (ROOT / "tests").rglob("test_*.py")
                ), name


def test_order_dict_round_trip_keeps_new_fields():
    order = _order(restrained_persons__0__ethnicity="hispanic",
                   restrained_persons__0__scars_marks_tattoos=[{"code": "TAT R HND"}])
    assert order_from_dict(order_to_dict(order)) == order
