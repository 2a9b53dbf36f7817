"""The record-oriented source: layouts, structure rules, record selection, load errors,
and properties of its parser and of the new transforms over generated files."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from engine.errors import DecodeError, MappingError, OrderInvalid, StructureError
from engine.mappings import load_mapping
from engine.mappings.records import RecordSource
from engine.mappings.recordspec import compile_record_source
from engine.mappings.reporter import Reporter
from engine.mappings.steps import _StrictFormat
from engine.mappings.transforms import (
    ValueProblem,
    parse_date,
    parse_datetime,
    pattern_format,
    split_parts,
)
from engine.mappings.yamlsource import load_located

LA = ZoneInfo("America/Los_Angeles")
REPO = Path(__file__).resolve().parents[2]
TULARE = REPO / "config" / "mappings" / "tulare-pipe-records"


def source(yaml_text: str) -> RecordSource:
    """A record source from the text of a mapping's `source:` section; no load errors."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.yaml"
        path.write_text(yaml_text, encoding="utf-8")
        data = load_located(path)
    reporter = Reporter("m.yaml")
    compiled = compile_record_source(data["source"], reporter, ("utf-8", "cp1252", "latin-1"))
    assert reporter.errors == []
    return compiled


PIPES = """\
source:
  format: records
  delimiter: "|"
  line_endings: crlf
  encoding: cp1252
  record_type: {field: 1}
  records:
    H: {occurs: one, columns: [T, A, B]}
    P: {occurs: one_or_more, columns: [T, NAME, AGE]}
    C: {parent: P, columns: [T, NOTE]}
    Z: {occurs: one, columns: [T, COUNT, AGES]}
  structure:
    first: H
    last: Z
    counts: [{field: Z.COUNT, of: [P]}]
    totals: [{field: Z.AGES, sum: P.AGE}]
"""


def crlf(*lines: str, encoding: str = "cp1252") -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


class TestDelimited:
    def test_ragged_rows_children_and_structure(self) -> None:
        """Short rows give no value for the missing columns; C lines hang under the P
        above them; counts and totals hold."""
        doc = source(PIPES).decode_records(crlf("H|x", "P|Peña|30", "C|n1", "C|n2", "P|Li|12",
                                                "Z|2|42"))
        assert doc.single("H").values == {"T": "H", "A": "x", "B": None}
        first, second = doc.by_type["P"]
        assert first.values["NAME"] == "Peña"  # cp1252 decoded
        assert [c.values["NOTE"] for c in first.children["C"]] == ["n1", "n2"]
        assert second.children == {}

    @pytest.mark.parametrize(("lines", "line", "rule"), [
        (("P|a|1", "Z|1|1"), 1, "source.structure.first"),
        (("H|x", "P|a|1"), 2, "source.structure.last"),
        (("H|x", "Q|a", "Z|0|0"), 2, "source.records"),
        (("H|x", "C|n", "P|a|1", "Z|1|1"), 2, "source.records.C.parent"),
        (("H|x", "H|y", "P|a|1", "Z|1|1"), 2, "source.records.H.occurs"),
        (("H|x", "Z|0|0"), 2, "source.records.P.occurs"),
        (("H|x", "P|a|1", "Z|2|1"), 3, "source.structure.counts[0]"),
        (("H|x", "P|a|1", "Z|1|5"), 3, "source.structure.totals[0]"),
        (("H|x", "P|a|one", "Z|1|1"), 2, "source.structure.totals[0]"),
        (("H|x", "P|a|1|extra", "Z|1|1"), 2, "source.records.P.columns"),
    ])
    def test_each_structure_rule_refuses_with_line_and_rule(
            self, lines: tuple[str, ...], line: int, rule: str) -> None:
        with pytest.raises(StructureError) as caught:
            source(PIPES).decode_records(crlf(*lines))
        assert (caught.value.line, caught.value.rule) == (line, rule)
        assert str(caught.value).startswith(f"line {line}: ")

    def test_declared_crlf_refuses_a_bare_lf(self) -> None:
        """A CRLF export with an LF line (a file edited by hand, or cut and pasted)."""
        with pytest.raises(StructureError) as caught:
            source(PIPES).decode_records(b"H|x\r\nP|a|1\nZ|1|1\r\n")
        assert (caught.value.line, caught.value.rule) == (2, "source.line_endings")

    def test_a_trailing_empty_field_is_not_data_left_behind(self) -> None:
        doc = source(PIPES).decode_records(crlf("H|x|y|", "P|a|1", "Z|1|1"))
        assert doc.single("H").values["B"] == "y"

    def test_blank_lines_are_no_records_and_keep_line_numbers(self) -> None:
        with pytest.raises(StructureError) as caught:
            source(PIPES).decode_records(crlf("H|x", "", "Q|a", "Z|0|0"))
        assert caught.value.line == 3

    def test_headerless_single_type_with_quotes(self) -> None:
        """One record type needs no record_type: a headerless CSV with quoting."""
        src = source('source:\n  format: records\n  delimiter: ","\n  quote: \'"\'\n'
                     "  records:\n    ROW: {columns: [NAME, CITY]}\n")
        doc = src.decode_records(b'"Doe, Jane",Fresno\nRoe,\n')
        assert [r.values for r in doc.records] == [{"NAME": "Doe, Jane", "CITY": "Fresno"},
                                                   {"NAME": "Roe", "CITY": None}]

    def test_bytes_not_of_the_encoding_are_a_decode_error(self) -> None:
        src = source(PIPES.replace("cp1252", "utf-8"))
        with pytest.raises(DecodeError, match="not valid utf-8"):
            src.decode_records(crlf("H|Peña", "P|a|1", "Z|1|1"))


FIXED = """\
source:
  format: records
  layout: fixed_width
  record_type: {start: 1, length: 1}
  records:
    A:
      columns:
        - {name: T, start: 1, length: 1}
        - {name: X, start: 2, length: 3}
        - {name: Y, start: 5, length: 2}
"""


class TestFixedWidth:
    def test_padding_is_stripped_and_short_lines_give_no_value(self) -> None:
        doc = source(FIXED).decode_records(b"Aab 12\nA x\n")
        assert [r.values for r in doc.records] == [{"T": "A", "X": "ab", "Y": "12"},
                                                   {"T": "A", "X": "x", "Y": None}]

    def test_text_beyond_the_layout_is_refused(self) -> None:
        with pytest.raises(StructureError) as caught:
            source(FIXED).decode_records(b"Aab 12\nAab 12Z\n")
        assert (caught.value.line, caught.value.rule) == (2, "source.records.A.columns")


def _mapping(tmp_path: Path, order: str, src: str = PIPES) -> Path:
    path = tmp_path / "mapping.yaml"
    path.write_text("mapping: 1\nname: t\n" + src + "order:\n" + order, encoding="utf-8")
    return path


class TestLoadErrors:
    @pytest.mark.parametrize(("order", "key", "fragment"), [
        ("  case_number: P.NAME\n", "order.case_number.path",
         "P records can occur more than once (occurs: one_or_more)"),
        ("  case_number: NAME\n", "order.case_number.path",
         "at the top level a path names its record: TYPE.NAME"),
        ("  case_number: H.NAMES\n", "order.case_number.path",
         "'NAMES' is not a column of H records"),
        ("  case_number: X.A\n", "order.case_number.path", "no record type 'X'"),
        ("  protected_persons:\n    each: C\n    fields: {name: {surname: NOTE}}\n",
         "order.protected_persons.each", "C records hang under P records"),
    ])
    def test_a_path_that_can_never_name_one_value_fails_the_load(
            self, tmp_path: Path, order: str, key: str, fragment: str) -> None:
        with pytest.raises(MappingError) as caught:
            load_mapping(_mapping(tmp_path, order))
        lines = [line for line in str(caught.value).splitlines() if f": {key}: " in line]
        assert lines and fragment in lines[0], str(caught.value)
        assert lines[0].startswith(f"{tmp_path / 'mapping.yaml'}:")

    @pytest.mark.parametrize(("old", "new", "key", "fragment"), [
        ("- {name: Y, start: 5, length: 2}", "- {name: Y, start: 4, length: 2}",
         "source.records.A.columns[2]", "overlaps column 'X'"),
        ("- {name: Y, start: 5, length: 2}", "- {name: X, start: 5, length: 2}",
         "source.records.A.columns[2]", "column 'X' is named twice"),
        ("record_type: {start: 1, length: 1}", "record_type: {start: 1, length: 2}",
         "source.record_type", "no column of A records has exactly these positions"),
        ("layout: fixed_width", "layout: fixed_width\n  delimiter: '|'",
         "source.delimiter", "a fixed-width layout has no delimiter"),
    ])
    def test_fixed_width_layout_faults(self, tmp_path: Path, old: str, new: str, key: str,
                                       fragment: str) -> None:
        with pytest.raises(MappingError) as caught:
            load_mapping(_mapping(tmp_path, "  case_number: A.X\n", FIXED.replace(old, new)))
        assert any(f": {key}: " in line and fragment in line
                   for line in str(caught.value).splitlines()), str(caught.value)

    @pytest.mark.parametrize(("old", "new", "key", "fragment"), [
        ("C: {parent: P,", "C: {parent: Q,", "source.records.C.parent", "no record type 'Q'"),
        ("[{field: Z.COUNT, of: [P]}]", "[{field: P.AGE, of: [P]}]",
         "source.structure.counts[0].field", "P records must have `occurs: one`"),
        ("last: Z", "last: Y", "source.structure.last", "no record type 'Y'"),
        ("H: {occurs: one, columns: [T, A, B]}",
         "H: {occurs: one, columns: [T, A, B], ignore: [D]}", "source.records.H.ignore",
         "'D' is not a column of H records"),
        ("line_endings: crlf", "line_endings: dos", "source.line_endings", "must be one of"),
    ])
    def test_record_layout_faults(self, tmp_path: Path, old: str, new: str, key: str,
                                  fragment: str) -> None:
        assert old in PIPES
        with pytest.raises(MappingError) as caught:
            load_mapping(_mapping(tmp_path, "  case_number: H.A\n", PIPES.replace(old, new)))
        assert any(f": {key}: " in line and fragment in line
                   for line in str(caught.value).splitlines()), str(caught.value)


class TestSelection:
    def test_a_scalar_from_repeated_records_counts_its_matches(self) -> None:
        """Two "other" terms where the mapping reads at most one: the field is refused,
        naming the rule, not silently the first."""
        raw = (TULARE / "tests" / "dv_oah_served_two_protected.input.txt").read_bytes()
        lines = raw.decode("cp1252").split("\r\n")
        lines.insert(6, "TRM|9|OTH|A second other term.")
        lines[-2] = "TRL|13|2"
        with pytest.raises(OrderInvalid) as caught:
            load_mapping(TULARE / "mapping.yaml").apply("\r\n".join(lines).encode("cp1252"))
        [error] = [e for e in caught.value.errors if e.path == "miscellaneous"]
        assert "2 source item(s) match; the mapping reads at most one" in error.reason
        assert "Second" not in str(caught.value) and "second other" not in str(caught.value)

    def test_reading_an_ignored_column_fails_the_load(self, tmp_path: Path) -> None:
        src = PIPES.replace("H: {occurs: one, columns: [T, A, B]}",
                            "H: {occurs: one, columns: [T, A, B], ignore: [A]}")
        with pytest.raises(MappingError, match="listed in `ignore`"):
            load_mapping(_mapping(tmp_path, "  case_number: H.A\n", src))


class TestTransforms:
    def test_split_into_name_parts(self) -> None:
        assert split_parts("DOE*JANE**JR", "*", ("surname", "given", "middle", "suffix")) == \
            {"surname": "DOE", "given": "JANE", "suffix": "JR"}

    def test_split_refuses_parts_it_would_drop_and_a_missing_surname(self) -> None:
        with pytest.raises(ValueProblem, match="more"):
            split_parts("DOE*JANE*X", "*", ("surname", "given"))
        with pytest.raises(ValueProblem, match="no surname"):
            split_parts("*JANE", "*", ("surname", "given"))

    def test_pattern_digits_are_exact(self) -> None:
        fmt = _StrictFormat(*pattern_format("MMDDYYYY"))
        assert parse_date("02292028", fmt) == dt.date(2028, 2, 29)
        with pytest.raises(ValueProblem):
            parse_date("1122026", fmt)  # strptime alone reads this as 1/12/2026

    def test_an_empty_regex_group_is_no_value(self, tmp_path: Path) -> None:
        """An empty regex group is no value, as the guide says of empty text: the optional
        field is left out instead of refusing the order for an empty judge."""
        mapping = (TULARE / "mapping.yaml").read_text(encoding="utf-8")
        rule = "  judicial_officer: HDR.JUDGE\n"
        assert rule in mapping
        path = tmp_path / "mapping.yaml"
        path.write_text(mapping.replace(rule, "  judicial_officer: {path: HDR.JUDGE, "
                                              "transform: [{regex: '^(\\d*)'}]}\n"),
                        encoding="utf-8")
        raw = (TULARE / "tests" / "ch_tro_issue_not_served.input.txt").read_bytes()
        order = load_mapping(path).apply(raw)
        assert order.judicial_officer is None


# -- properties ------------------------------------------------------------------------

_value = st.text(alphabet=st.characters(codec="cp1252", exclude_characters="|\r\n\x1a"),
                 max_size=12)


@settings(max_examples=60, deadline=None)
@given(people=st.lists(st.tuples(_value, _value), min_size=1, max_size=6),
       header=st.tuples(_value, _value))
def test_delimited_records_read_back_what_was_written(
        people: list[tuple[str, str]], header: tuple[str, str]) -> None:
    """Any values (without the delimiter or line breaks) come back as written; blank ones
    as no value."""
    ages = ["1"] * len(people)
    lines = [f"H|{header[0]}|{header[1]}",
             *(f"P|{name}|{age}" for (name, _), age in zip(people, ages, strict=True)),
             f"Z|{len(people)}|{len(people)}"]
    doc = source(PIPES).decode_records(crlf(*lines))
    expect = [v if v.strip() else None for v in header]
    assert [doc.single("H").values["A"], doc.single("H").values["B"]] == expect
    assert [r.values["NAME"] for r in doc.by_type["P"]] == \
        [n if n.strip() else None for n, _ in people]


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(st.text(alphabet="abcXYZ09 ", max_size=3),
                               st.text(alphabet="abcXYZ09 ", max_size=2)),
                     min_size=1, max_size=8))
def test_fixed_width_records_read_back_what_was_written(rows: list[tuple[str, str]]) -> None:
    raw = "".join(f"A{x.ljust(3)}{y.ljust(2)}\n" for x, y in rows).encode()
    doc = source(FIXED).decode_records(raw)
    assert [(r.values["X"], r.values["Y"]) for r in doc.records] == \
        [(x.strip() or None, y.strip() or None) for x, y in rows]


_TULARE_CASE = (TULARE / "tests" / "dv_oah_served_two_protected.input.txt").read_bytes()


@settings(max_examples=40, deadline=None)
@given(keep=st.integers(min_value=0, max_value=_TULARE_CASE.count(b"\r\n") - 1),
       cut=st.integers(min_value=0, max_value=40))
def test_a_truncated_export_is_never_an_order(keep: int, cut: int) -> None:
    """The example export cut anywhere before its end (whole lines or mid-line) is
    refused as a whole, never mapped to an order with less in it."""
    lines = _TULARE_CASE.split(b"\r\n")
    raw = b"\r\n".join(lines[:keep]) + b"\r\n" + lines[keep][:cut]
    assume(raw.rstrip(b"\r\n") != _TULARE_CASE.rstrip(b"\r\n"))  # only the end line break
    mapping = load_mapping(TULARE / "mapping.yaml")
    with pytest.raises((DecodeError, OrderInvalid)):
        mapping.apply(raw)


@settings(max_examples=80, deadline=None)
@given(raw=st.binary(max_size=300) | st.text(alphabet="HPCZ|01\r\n a", max_size=80).map(
    lambda t: t.encode()))
def test_any_bytes_give_records_or_a_decode_error(raw: bytes) -> None:
    """Any bytes are refused with a DecodeError (nothing else escapes), or are a file that
    keeps every structure rule."""
    try:
        doc = source(PIPES).decode_records(raw)
    except DecodeError:
        return
    assert (doc.records[0].type, doc.records[-1].type) == ("H", "Z")
    assert len(doc.by_type["H"]) == 1 and len(doc.by_type["P"]) == int(
        doc.single("Z").values["COUNT"] or -1)


@given(moment=st.datetimes(min_value=dt.datetime(1900, 1, 1),
                          max_value=dt.datetime(2200, 12, 31)),
       pattern=st.sampled_from(["MMDDYYYY HHMM", "YYYYMMDDHHMMSS", "YYYY-MM-DDTHH:MM"]))
def test_datetime_patterns_agree_with_strptime(moment: dt.datetime, pattern: str) -> None:
    """A pattern's own digit reading gives what strptime gives for the same format."""
    found = pattern_format(pattern)
    assert found is not None
    fmt = _StrictFormat(*found)
    text = moment.strftime(fmt).replace(str(moment.year), f"{moment.year:04d}", 1)
    assert parse_datetime(text, fmt, LA) == dt.datetime.strptime(text, str(fmt)).replace(
        tzinfo=LA)


@given(day=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 12, 31)),
       pattern=st.sampled_from(["MMDDYYYY", "YYYYMMDD", "YYYY-MM-DD", "DD.MM.YYYY"]))
def test_date_patterns_read_what_they_write(day: dt.date, pattern: str) -> None:
    found = pattern_format(pattern)
    assert found is not None
    fmt = _StrictFormat(*found)
    text = day.strftime(fmt).replace(str(day.year), f"{day.year:04d}")
    assert parse_date(text, fmt) == day == dt.datetime.strptime(text, str(fmt)).date()
    with pytest.raises(ValueProblem):
        parse_date(text[1:], fmt)


@given(parts=st.lists(st.text(alphabet=st.characters(categories=("Lu", "Ll")), min_size=1,
                              max_size=8), min_size=1, max_size=4))
def test_split_parts_keeps_every_part_in_place(parts: list[str]) -> None:
    names = ("surname", "given", "middle", "suffix")[:len(parts)]
    assert split_parts("*".join(parts), "*", names) == dict(zip(names, parts, strict=True))


class TestCsvCoverage:
    KERN = REPO / "config" / "mappings" / "kern-legacy-csv" / "mapping.yaml"
    WEIGHT = "      weight_pounds: {path: WGT, transform: [int]}\n"

    def _write(self, tmp_path: Path, text: str) -> Path:
        path = tmp_path / "mapping.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    def test_a_csv_column_no_rule_reads_is_reported_until_ignored(self, tmp_path: Path) -> None:
        text = self.KERN.read_text(encoding="utf-8")
        assert self.WEIGHT in text
        dropped = text.replace(self.WEIGHT, "")
        assert load_mapping(self._write(tmp_path, dropped)).unread_columns() == ["WGT"]
        ignored = dropped.replace("REL, MINOR]", "REL, MINOR]\n  ignore: [WGT]")
        assert load_mapping(self._write(tmp_path, ignored)).unread_columns() == []

    def test_reading_an_ignored_csv_column_fails_the_load(self, tmp_path: Path) -> None:
        text = self.KERN.read_text(encoding="utf-8").replace(
            "REL, MINOR]", "REL, MINOR]\n  ignore: [WGT]")
        with pytest.raises(MappingError, match=r"listed in source\.ignore"):
            load_mapping(self._write(tmp_path, text))


def test_from_where_refuses_an_order_type_test(tmp_path: Path) -> None:
    """`from.where` runs on source items only: an order_type test there fails the load."""
    text = (TULARE / "mapping.yaml").read_text(encoding="utf-8")
    old = "from: {each: TRM, where: {path: CODE, equals: OTH}, occurs: at_most_one}"
    assert old in text
    path = tmp_path / "mapping.yaml"
    path.write_text(text.replace(old, "from: {each: TRM, where: {order_type: [dv_tro]}}"),
                    encoding="utf-8")
    with pytest.raises(MappingError, match=r"order\.miscellaneous\.from\.where\.order_type"):
        load_mapping(path)


def test_a_field_error_names_the_record_column_and_the_input_line() -> None:
    """A bad code in a record names TYPE.COLUMN, the mapping line and the file's line, and
    not the code itself."""
    raw = (TULARE / "tests" / "unknown_sex_rejected.input.txt").read_bytes()
    with pytest.raises(OrderInvalid) as caught:
        load_mapping(TULARE / "mapping.yaml").apply(raw)
    [error] = caught.value.errors
    assert error.path == "restrained_persons.0.sex"
    assert "path 'RSP.SEX' at " in error.reason and error.reason.endswith("; input line 2]")
    assert "|Q|" not in error.reason and "'Q'" not in error.reason


def test_a_csv_mapping_given_a_record_export_points_to_format_records() -> None:
    """The issue's first failure: a record export given to a CSV mapping is refused with a
    hint to the record source, not only "names a column twice"."""
    kern = load_mapping(REPO / "config" / "mappings" / "kern-legacy-csv" / "mapping.yaml")
    with pytest.raises(DecodeError, match=r"format: records"):
        kern.apply(b"HDR,A,A\nRSP,B\n")
