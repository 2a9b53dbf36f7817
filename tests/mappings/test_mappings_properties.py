"""Properties of the mapping transforms and code tables, over generated inputs."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from engine.errors import OrderInvalid
from engine.mappings import load_mapping
from engine.mappings.transforms import (
    NAME_ORDERS,
    ValueProblem,
    feet_inches,
    parse_date,
    parse_datetime,
    split_name,
)

LA = ZoneInfo("America/Los_Angeles")
#: Name tokens: letters of any script with the punctuation names carry.
name_token = st.text(
    alphabet=st.characters(categories=("Lu", "Ll", "Lo"), include_characters="'-."),
    min_size=1, max_size=12)
full_name = st.lists(name_token, min_size=1, max_size=5).flatmap(
    lambda tokens: st.sampled_from([" ".join(tokens),
                                    f"{tokens[0]}, {' '.join(tokens[1:])}",
                                    f"{tokens[0]} ,{' '.join(tokens[1:])}"]))


def _letters(text: str) -> Counter[str]:
    return Counter(ch for ch in text.casefold() if ch.isalpha())


class TestSplitName:
    @given(text=st.one_of(full_name, st.text(max_size=40)), order=st.sampled_from(NAME_ORDERS))
    def test_never_loses_or_invents_letters(self, text: str, order: str) -> None:
        """Every letter of the full name is in exactly one part, or the name is refused."""
        try:
            parts = split_name(text, order)
        except ValueProblem:
            return
        assert _letters(text) == _letters("".join(parts.values()))
        assert parts["surname"]

    @given(tokens=st.lists(name_token.filter(lambda t: t.isalpha()), min_size=2, max_size=4))
    def test_comma_form_puts_the_surname_first(self, tokens: list[str]) -> None:
        """"SURNAME, GIVEN MIDDLE" puts the part before the comma in the surname."""
        assume(tokens[-1].upper() not in {"JR", "SR", "I", "II", "III", "IV", "V", "VI"})
        parts = split_name(f"{tokens[0]}, {' '.join(tokens[1:])}", "auto")
        assert parts["surname"] == tokens[0]
        assert parts["given"] == tokens[1]

    @pytest.mark.parametrize(("text", "order", "expected"), [
        ("O'BRIEN, PATRICK SEAN JR", "surname_first",
         {"surname": "O'BRIEN", "given": "PATRICK", "middle": "SEAN", "suffix": "JR"}),
        ("Patrick Sean O'Brien Jr.", "given_first",
         {"surname": "O'Brien", "given": "Patrick", "middle": "Sean", "suffix": "JR"}),
        ("WHITFIELD JR, GARRETT", "auto",
         {"surname": "WHITFIELD", "given": "GARRETT", "suffix": "JR"}),
        ("John Smith, III", "auto", {"surname": "Smith", "given": "John", "suffix": "III"}),
        ("MADONNA", "auto", {"surname": "MADONNA"}),
        # a dotless i is a letter of a name, not the suffix "I" (found by the property above)
        ("Aylin Su \u0131", "given_first", {"surname": "\u0131", "given": "Aylin", "middle": "Su"}),
        ("GARCIA LOPEZ JOSE", "surname_first", {"surname": "GARCIA", "given": "LOPEZ",
                                                "middle": "JOSE"}),
    ])
    def test_written_forms(self, text: str, order: str, expected: dict) -> None:
        """The name forms court exports use split as a clerk would read them."""
        assert split_name(text, order) == expected


class TestDates:
    @given(day=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 12, 31)),
           fmt=st.sampled_from(["%m/%d/%Y", "%Y-%m-%d", "%d.%m.%Y", "%Y%m%d"]))
    def test_date_round_trip(self, day: dt.date, fmt: str) -> None:
        """A date written in a format reads back as the same date."""
        assert parse_date(day.strftime(fmt), fmt) == day

    @given(moment=st.datetimes(min_value=dt.datetime(1970, 1, 1),
                               max_value=dt.datetime(2100, 1, 1)).map(
               lambda m: m.replace(second=0, microsecond=0)),
           fmt=st.sampled_from(["%m/%d/%Y %I:%M %p", "%Y-%m-%d %H:%M", "%m/%d/%Y %H%M"]))
    def test_local_datetime_round_trip(self, moment: dt.datetime, fmt: str) -> None:
        """A local court time written in a format reads back as that wall time in the zone."""
        parsed = parse_datetime(moment.strftime(fmt), fmt, LA)
        assert parsed.replace(tzinfo=None) == moment
        assert parsed.tzinfo is LA

    @given(moment=st.datetimes(min_value=dt.datetime(1970, 1, 1),
                               max_value=dt.datetime(2100, 1, 1),
                               timezones=st.just(dt.UTC)).map(
               lambda m: m.replace(microsecond=0)))
    def test_offset_datetime_round_trip(self, moment: dt.datetime) -> None:
        """An ISO time with an offset reads back as the same instant, whatever the zone."""
        local = moment.astimezone(LA)
        parsed = parse_datetime(local.isoformat(), "%Y-%m-%dT%H:%M:%S%z", None)
        assert parsed == moment

    @given(text=st.text(max_size=30))
    def test_bad_dates_are_value_problems(self, text: str) -> None:
        """Text that is not a date in the format is a ValueProblem, never another error."""
        try:
            parse_date(text, "%m/%d/%Y")
            parse_datetime(text, "%m/%d/%Y %I:%M %p", LA)
        except ValueProblem:
            pass

    @settings(max_examples=400)
    @given(data=st.data(), fmt=st.sampled_from([
        "%Y-%m-%d", "%m/%d/%Y", "%m/%d/%Y %I:%M %p", "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%z"]))
    def test_fast_parsers_agree_with_strptime(self, data: st.DataObject, fmt: str) -> None:
        """The fast date parsers accept exactly what strptime accepts, with the same result."""
        written = data.draw(st.datetimes(min_value=dt.datetime(1, 1, 1),
                                         timezones=st.just(dt.UTC) | st.just(LA))
                            .map(lambda m: m.replace(microsecond=0).strftime(
                                fmt.replace("%z", "%z" if m.second % 2 else "Z"
                                            if m.utcoffset() == dt.timedelta(0) else "%z"))))
        noise = data.draw(st.text(alphabet="0123456789/-:+ TZAPMampm\u0661", max_size=25))
        text = data.draw(st.sampled_from([written, noise, written[:-1], written + "0",
                                          written.replace("/", "/0", 1),
                                          written.replace(":", ":6", 1)]))
        try:
            expected = dt.datetime.strptime(text.strip(), fmt)
        except ValueError:
            expected = None
        try:
            got = parse_datetime(text, fmt, dt.UTC)
            if expected is not None and expected.tzinfo is None:
                got = got.replace(tzinfo=None)
        except ValueProblem:
            got = None
        assert got == expected
        if expected is not None and expected.tzinfo is not None:
            assert got.utcoffset() == expected.utcoffset()
        try:
            day = parse_date(text, fmt)
        except ValueProblem:
            day = None
        assert day == (expected.date() if expected is not None else None)

    @given(feet=st.integers(1, 8), inches=st.integers(0, 11),
           form=st.sampled_from(["{f}'{i}\"", "{f}-{i}", "{f} ft {i} in", "{f}{i:02d}"]))
    def test_feet_inches(self, feet: int, inches: int, form: str) -> None:
        """Heights in the usual written forms read as total inches."""
        assert feet_inches(form.format(f=feet, i=inches)) == feet * 12 + inches


_TABLE_MAPPING = """\
mapping: 1
source: {{format: json}}
code_tables:
  sex:
    codes: {codes}
    unknown: {unknown}
order:
  court: {{ori: {{const: CA019015J}}, name: {{const: Court}}}}
  case_number: {{const: C1}}
  order_id: {{const: O1}}
  version: {{const: "1"}}
  action: {{const: issue}}
  order_type: {{const: dv_tro}}
  issued_at: {{const: "2026-11-20T15:42:00-08:00"}}
  effective_date: {{const: "2026-11-20"}}
  expiration_date: {{const: "2026-12-11"}}
  restrained_persons:
    each: people
    fields:
      name: {{surname: {{const: X}}}}
      sex: {{path: code, table: sex}}
      race: {{const: unknown}}
  protected_persons: [{{fields: {{name: {{surname: {{const: Y}}}}}}}}]
"""
codes = st.text(alphabet="ABCDEFGHJKMNPQRSTUVWXYZ0123456789", min_size=1, max_size=4)
sexes = st.sampled_from(["male", "female", "nonbinary", "unknown"])


class TestCodeTables:
    @settings(max_examples=40, deadline=None)
    @given(table=st.dictionaries(codes, sexes, min_size=1, max_size=6), probe=codes,
           reject=st.booleans())
    def test_lookup_known_unknown_reject_default(self, table: dict[str, str], probe: str,
                                                 reject: bool) -> None:
        """A known code maps to its canonical code; an unknown one is refused or defaulted."""
        flow = ", ".join(f'"{k}": {v}' for k, v in table.items())
        text = _TABLE_MAPPING.format(codes="{" + flow + "}",
                                     unknown="reject" if reject else "{default: unknown}")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "mapping.yaml"
            path.write_text(text)
            mapping = load_mapping(path)
        raw = f'{{"people": [{{"code": "{probe}"}}]}}'.encode()
        if probe in table:
            assert mapping.apply(raw).restrained_persons[0].sex.value == table[probe]
        elif reject:
            with pytest.raises(OrderInvalid) as info:
                mapping.apply(raw)
            assert [e.path for e in info.value.errors] == ["restrained_persons.0.sex"]
        else:
            assert mapping.apply(raw).restrained_persons[0].sex.value == "unknown"
