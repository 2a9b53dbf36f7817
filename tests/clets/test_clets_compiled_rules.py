"""The compiled layout rules give exactly what the code before them gave.

`engine.clets.rules` works out each field's rules once per layout (reason texts, code
sets, values known to pass, a date check without strptime, a date text without strftime),
the renderer skips the `Encoded` step for values that cannot warn or fail, and text
fitting uses a translate table. `tests/clets/reference_clets.py` keeps the code as it was;
these tests hold the current code to it, byte for byte and error for error, for
hypothesis-drawn orders, field texts, messages and dates, under the shipped layout and
under variants that make the rarer paths (rejections, other date formats) common.
"""

from __future__ import annotations

import copy
import datetime as dt
import string

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engine.canonical import decode_order
from engine.clets import render_clets, validate_clets
from engine.clets.fields import check_value
from engine.clets.layout import DEFAULT_LAYOUT_PATH, Layout, default_layout, parse_layout
from engine.clets.rules import date_checker, date_formatter
from engine.clets.text import fit_to_charset, format_ncic_name, transliterate
from engine.errors import RenderError
from engine.formats import RenderContext
from engine.model import Action, Order
from tests.clets import reference_clets as ref
from tests.conftest import FIXTURES
from tests.strategies import orders, person_names

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _variant(change) -> Layout:
    raw = yaml.safe_load(DEFAULT_LAYOUT_PATH.read_text(encoding="utf-8"))
    raw = copy.deepcopy(raw)
    change(raw)
    return parse_layout(raw, "<variant>")


def _strict(raw: dict) -> None:
    """Short text and name fields that reject rather than cut or drop."""
    for body in raw["fields"].values():
        if body["kind"] in ("text", "name"):
            body["max_length"] = 10
            body["on_overflow"] = "reject"
            body["on_bad_char"] = "reject"


def _iso_dates(raw: dict) -> None:
    """Dates written CCYY-MM-DD (the fast date path with separators)."""
    raw["format"]["date_format"] = "%Y-%m-%d"
    raw["format"]["date_format_text"] = "CCYY-MM-DD"
    raw["charsets"]["date"] = "0123456789-" + string.ascii_uppercase  # NONEXP too
    for body in raw["fields"].values():
        if body["kind"] == "date":
            body["charset"] = "date"
            body["max_length"] = 10


def _two_digit_years(raw: dict) -> None:
    """A date format the fast path does not take (strptime decides)."""
    raw["format"]["date_format"] = "%y%m%d"
    for body in raw["fields"].values():
        if body["kind"] == "date":
            body["max_length"] = 6


LAYOUTS = {
    "shipped": default_layout(),
    "strict": _variant(_strict),
    "iso_dates": _variant(_iso_dates),
    "two_digit_years": _variant(_two_digit_years),
}
GOLDEN = sorted((FIXTURES / "clets").glob("*.txt"))


def _rendered(render, order: Order, ctx: RenderContext, layout: Layout) -> tuple:
    try:
        out = render(order, ctx, layout)
    except RenderError as exc:
        return ("error", str(exc), exc.errors)
    return ("ok", out.body, out.content_type, out.warnings)


#: Mostly contexts the layout takes (so most orders render), sometimes ones it refuses.
contexts = st.builds(
    RenderContext,
    mcn=st.one_of(st.just("MCN-GOLDEN-0001"), st.from_regex(r"[A-Za-z0-9-]{1,36}", fullmatch=True),
                  st.text(string.ascii_letters + "-_ 0", max_size=40)),
    sent_at=st.just(dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)),
    doj_record_id=st.one_of(st.just("H000012345"),
                            st.from_regex(r"[A-Z0-9]{1,15}", fullmatch=True),
                            st.none(), st.text(string.ascii_uppercase + "-", max_size=17)),
)


#: Orders with one restrained person (a record carries one), so most get past the checks
#: before the build; any order at all is drawn too.
one_subject_orders = orders().map(
    lambda o: o.model_copy(update={"restrained_persons": o.restrained_persons[:1]}))


class TestRender:
    @pytest.mark.parametrize("name", sorted(LAYOUTS))
    @SETTINGS
    @given(order=st.one_of(one_subject_orders, orders()), ctx=contexts)
    def test_same_message_or_same_errors(self, name, order, ctx):
        layout = LAYOUTS[name]
        assert (_rendered(render_clets, order, ctx, layout)
                == _rendered(ref.render_clets, order, ctx, layout))


    @pytest.mark.parametrize("name", sorted(LAYOUTS))
    def test_fixture_orders_agree(self, name):
        """Every fixture order (all valid, most render) under every layout variant."""
        layout = LAYOUTS[name]
        for path in sorted((FIXTURES / "orders").glob("*.json")):
            order = decode_order(path.read_bytes())
            for record_id in (None, "H000012345"):
                ctx = RenderContext(mcn="MCN-GOLDEN-0001", doj_record_id=record_id,
                                    sent_at=dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC))
                assert (_rendered(render_clets, order, ctx, layout)
                        == _rendered(ref.render_clets, order, ctx, layout)), path.stem


#: Field text drawn to hit every rule: codes, none values, dates, digits, letters, blanks.
def _field_texts(layout: Layout) -> st.SearchStrategy[str]:
    codes = sorted({c for t in layout.tables.values() for c in t.code_set}
                   | {f.none_value for f in layout.fields.values() if f.none_value})
    dates = st.dates(min_value=dt.date(1, 1, 1)).map(
        lambda d: d.strftime(layout.date_format))
    return st.one_of(
        st.sampled_from(codes), dates,
        st.text(string.digits, max_size=10),
        st.text(string.ascii_uppercase + string.digits + " ,-/.'", max_size=40),
        st.text(max_size=12),
    )


class TestCheckValue:
    @pytest.mark.parametrize("name", sorted(LAYOUTS))
    @SETTINGS
    @given(data=st.data())
    def test_same_reasons(self, name, data):
        layout = LAYOUTS[name]
        spec = layout.fields[data.draw(st.sampled_from(sorted(layout.fields)))]
        value = data.draw(_field_texts(layout))
        assert check_value(spec, value, layout) == ref.check_value(spec, value, layout)


def _lines(text: str) -> list[str]:
    return text.rstrip("\n").split("\n")


@st.composite
def messages(draw: st.DrawFn) -> str:
    """A golden message with random edits: lines dropped, repeated, moved, rewritten, added."""
    lines = _lines(draw(st.sampled_from(GOLDEN)).read_text(encoding="ascii"))
    layout = default_layout()
    values = _field_texts(layout)
    for _ in range(draw(st.integers(0, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        edit = draw(st.sampled_from(["drop", "repeat", "move", "value", "add", "marker",
                                     "garble"]))
        if edit == "drop" and len(lines) > 1:
            del lines[i]
        elif edit == "repeat":
            lines.insert(i, lines[i])
        elif edit == "move":
            lines.insert(draw(st.integers(0, len(lines))), lines.pop(i))
        elif edit == "value":
            lines[i] = lines[i].partition("/")[0] + "/" + draw(values)
        elif edit == "add":
            mnemonic = draw(st.sampled_from([*sorted(layout.fields), "ZZZ"]))
            lines.insert(i, f"{mnemonic}/{draw(values)}")
        elif edit == "marker":
            lines.insert(i, layout.supplemental_marker)
        else:
            lines[i] = draw(st.text(max_size=10))
    return "\n".join(lines) + draw(st.sampled_from(["\n", ""]))


class TestValidate:
    @SETTINGS
    @given(text=messages(), action=st.one_of(st.none(), st.sampled_from(Action)),
           as_bytes=st.booleans())
    @example(text="", action=None, as_bytes=False)
    @example(text="MKE/QQQ\n", action=None, as_bytes=False)
    @example(text="MKE/EPO\nSEX/\u00e9\n", action=None, as_bytes=True)
    def test_same_problems(self, text, action, as_bytes):
        body: str | bytes = text.encode("utf-8") if as_bytes else text
        assert validate_clets(body, action) == ref.validate_clets(body, action)

    @pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
    def test_golden_messages_agree(self, path):
        text = path.read_text(encoding="ascii")
        for action in (None, *Action):
            assert validate_clets(text, action) == ref.validate_clets(text, action)


def _strptime_ok(fmt: str, value: str) -> bool:
    """The date rule exactly as check_value applied it before."""
    width = len(dt.date(2000, 1, 1).strftime(fmt))
    try:
        dt.datetime.strptime(value, fmt)
        if len(value) != width:
            raise ValueError(value)
    except ValueError:
        return False
    return True


DATE_FORMATS = ["%Y%m%d", "%m/%d/%Y", "%Y-%m-%d", "%d.%m.%Y", "%m%d%Y", "%d%m%Y",
                "%y%m%d", "%Y %m %d", "%Y%m", "%b %d %Y"]
_DATE_CHARS = string.digits + "-/. " + "\u0663\uff11"  # with non-ASCII digits strptime takes


@st.composite
def date_texts(draw: st.DrawFn, fmt: str) -> str:
    kind = draw(st.sampled_from(["date", "near", "any"]))
    if kind == "any":
        return draw(st.text(_DATE_CHARS, max_size=12))
    text = draw(st.dates(min_value=dt.date(1, 1, 1))).strftime(fmt)
    if kind == "near" and text:
        i = draw(st.integers(0, len(text) - 1))
        text = text[:i] + draw(st.sampled_from(list(_DATE_CHARS))) + text[i + 1:]
    return text


class TestDates:
    @pytest.mark.parametrize("fmt", DATE_FORMATS)
    @settings(max_examples=400, deadline=None)
    @given(data=st.data())
    @example(data=None)
    def test_checker_answers_as_strptime(self, fmt, data):
        check = date_checker(fmt)
        if data is None:  # edge cases of each part's range
            samples = ["20260230", "20240229", "20230229", "00000101", "20261301", "20261200",
                       "20261232", "2026 1 5", "202612 5", "20261101", "1231999", "12311999",
                       "99991231", "0001-01-01", "2026-02-29", "02/29/2024", "31.12.2026",
                       "\u0663\u0663\u0663\u06631111"]
        else:
            samples = [data.draw(date_texts(fmt))]
        for value in samples:
            assert check(value) == _strptime_ok(fmt, value), value

    @pytest.mark.parametrize("fmt", DATE_FORMATS)
    @given(day=st.dates(min_value=dt.date(1, 1, 1)))
    @example(day=dt.date(999, 12, 31))
    @example(day=dt.date(1000, 1, 1))
    @example(day=dt.date(9999, 12, 31))
    def test_formatter_writes_as_strftime(self, fmt, day):
        assert date_formatter(fmt)(day) == day.strftime(fmt)


CHARSETS = [frozenset(v) for v in yaml.safe_load(
    DEFAULT_LAYOUT_PATH.read_text(encoding="utf-8"))["charsets"].values()]


class TestText:
    @given(text=st.text(max_size=30))
    def test_transliterate(self, text):
        new, old = transliterate(text), ref.transliterate(text)
        assert (new.text, new.lost) == (old.text, old.lost)

    @given(text=st.one_of(st.text(max_size=30),
                          st.text(string.printable + "\u00e9\u00df\u00a0\u2019", max_size=30)),
           allowed=st.sampled_from(CHARSETS), drop=st.sampled_from(["", "'", "'.\t", "-"]))
    def test_fit_to_charset(self, text, allowed, drop):
        new = fit_to_charset(text, allowed, drop)
        old = ref.fit_to_charset(text, allowed, drop)
        assert (new.text, new.lost) == (old.text, old.lost)

    @given(name=person_names(), allowed=st.sampled_from(CHARSETS),
           drop=st.sampled_from(["", "'", "'."]), max_length=st.integers(2, 40))
    def test_format_ncic_name(self, name, allowed, drop, max_length):
        new, cut = format_ncic_name(name, allowed, drop, max_length)
        old, old_cut = ref.format_ncic_name(name, allowed, drop, max_length)
        assert (new.text, new.lost, cut) == (old.text, old.lost, old_cut)
