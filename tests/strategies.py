"""Hypothesis strategies for valid canonical orders, shared by every area's property tests.

Every order `orders()` draws passes `engine.law.checks.check_order`: dates are built from the
issue time forward (effective on or after issuance, expiration on or after effective, service
after issuance, birth dates before it), version 1 is always an issue, condition 08 always
comes with its miscellaneous terms. Nothing is filtered, so drawing stays fast.

Names come from a pool that needs care (O'Brien, García-López, Nguyễn, O\u2019Connor with a
typographic apostrophe, single legal names, several scripts) mixed with freshly drawn
letters of any script; free text is drawn from letters, digits, punctuation and symbols of
any script (never control characters).

    from tests.strategies import orders

    @given(orders())
    def test_renders(order): ...
"""

from __future__ import annotations

import datetime as dt
import string
from typing import TypeVar

from hypothesis import strategies as st

from engine.law.court_time import court_date
from engine.law.deadlines import DEFAULT_POLICY
from engine.law.rules import (
    BRADY_PROTECTED,
    default_expiration,
    latest_expiration,
    rule_for,
)
from engine.model import (
    DEPRECATED_RACES,
    Action,
    Condition,
    ConditionCode,
    Court,
    Ethnicity,
    EyeColor,
    Firearms,
    HairColor,
    IdentifierKind,
    Order,
    OrderImage,
    OrderType,
    PersonIdentifier,
    PersonName,
    ProtectedPerson,
    Race,
    Relationship,
    RestrainedPerson,
    ScarMarkTattoo,
    Service,
    ServiceStatus,
    Sex,
    SkinTone,
)

__all__ = [
    "CAREFUL_NAME_PARTS",
    "REFERENCE_ISSUE_DATE",
    "TIMEZONES",
    "conditions",
    "courts",
    "name_parts",
    "order_images",
    "orders",
    "person_identifiers",
    "person_names",
    "protected_persons",
    "restrained_persons",
    "texts",
    "tokens",
]

#: Name parts that break naive code: apostrophes (both kinds), hyphens, accents, spaces,
#: periods, and scripts other than Latin.
CAREFUL_NAME_PARTS = (
    "O'Brien", "O\u2019Connor", "García-López", "Nguyễn", "Thị", "Đặng", "José", "Zoë",
    "Okonkwo-Smith", "de la Cruz", "St. James", "Van der Berg", "Lindqvist", "Åsa",
    "Müller", "Ødegaard", "Šťastný", "Ångström", "Mary-Kate", "D'Angelo", "\u02bbĀkau",
    "Иванов", "Παπαδόπουλος", "李", "김민준", "Tanaka", "محمد", "Cohen", "Żółć", "Nuñez",
)
#: Fixed UTC offsets the courts' systems send (Pacific standard/daylight, UTC, others).
TIMEZONES = tuple(
    dt.timezone(dt.timedelta(minutes=m))
    for m in (-8 * 60, -7 * 60, 0, -10 * 60, -5 * 60, 5 * 60 + 30, 9 * 60)
)
#: Free text as courts write it: quotes, ampersands, angle brackets, accents, numbers.
_PHRASES = (
    "Stay at least 100 yards away.",
    'Do not post about the protected person on social media ("any platform").',
    "Hon. María Ortiz-Núñez & Commissioner Lee",
    "Superior Court of California, County of Los Angeles",
    "tattoo left forearm <anchor>",
    "Served in court: restrained person present",
    "No contact except 10:00-12:00 supervised visits; 50% of fees.",
    "O'Brien & Sons, 1/2 mile radius",
)
_SUFFIXES = ("JR", "SR", "I", "II", "III", "IV", "V", "VI")
_TOKEN_START = string.ascii_letters + string.digits
_TOKEN_REST = _TOKEN_START + "._:/-"
_UPPER_ALNUM = string.ascii_uppercase + string.digits
_STATES = ("CA", "NV", "OR", "AZ", "WA", "TX", "NY", "MX")
#: Birth dates are drawn relative to this issue date, then moved to each order's own.
REFERENCE_ISSUE_DATE = dt.date(2026, 11, 20)
_EARLIEST_ISSUE = dt.datetime(2020, 1, 1)
_LATEST_ISSUE = dt.datetime(2035, 12, 31, 23, 59, 59)
#: Born at most this long before issuance is a plausible person (about 110 years).
_LIFESPAN = dt.timedelta(days=110 * 365)
#: Birth dates on or after issuance minus this are certainly under 18 on the issue date.
_UNDER_18 = dt.timedelta(days=17 * 365)
#: Birth dates on or before issuance minus this are certainly 18 or over.
_OVER_18 = dt.timedelta(days=18 * 366)


#: Race words a court sends today (the deprecated joined word reads back as unknown).
_RACES = st.sampled_from([r for r in Race if r not in DEPRECATED_RACES])
#: Marks by NCIC SMT code (codes from the NCIC SMT table), with or without words beside.
_SMT = st.builds(ScarMarkTattoo,
                 code=st.sampled_from(("TAT R HND", "SC L CHK", "TAT LF ARM", "TAT NECK",
                                       "RTAT LCALF")),
                 description=st.none() | st.sampled_from(_PHRASES))


def _letters_word(max_size: int = 12) -> st.SearchStrategy[str]:
    return st.text(st.characters(categories=("Lu", "Ll", "Lo")), min_size=1, max_size=max_size)


def name_parts() -> st.SearchStrategy[str]:
    """One name part: a careful pool name, or letters of any script, maybe hyphenated."""
    drawn = st.builds(
        lambda first, sep, second: first if sep is None else f"{first}{sep}{second}",
        _letters_word(), st.sampled_from((None, "-", "'", "\u2019", " ")), _letters_word(),
    )
    pool = st.sampled_from(CAREFUL_NAME_PARTS)
    return st.one_of(pool, pool, drawn)  # mostly the pool: fewer draws, faster examples


def person_names() -> st.SearchStrategy[PersonName]:
    """A legal name: full (given, middle, suffix each maybe absent) or a single legal name."""
    full = st.builds(
        PersonName,
        surname=name_parts(),
        given=name_parts(),
        middle=st.none() | name_parts(),
        suffix=st.none() | st.sampled_from(_SUFFIXES),
    )
    single = st.builds(PersonName, surname=name_parts())
    return st.one_of(full, full, single)


def texts(max_words: int = 8) -> st.SearchStrategy[str]:
    """A line of free text: a realistic phrase, or words of any script (letters, digits,
    punctuation, symbols) joined by single spaces; never control characters."""
    word = st.text(st.characters(categories=("L", "N", "P", "S")), min_size=1, max_size=10)
    drawn = st.lists(word, min_size=1, max_size=max_words).map(" ".join)
    phrases = st.sampled_from(_PHRASES)
    return st.one_of(phrases, phrases, drawn)


def tokens(max_size: int = 30) -> st.SearchStrategy[str]:
    """An identifier-like token (case number, order id, document number)."""
    return st.builds(
        str.__add__,
        st.sampled_from(_TOKEN_START),
        st.text(st.sampled_from(_TOKEN_REST), max_size=max_size - 1),
    )


def courts() -> st.SearchStrategy[Court]:
    """A court with a California-style ORI (CA + 7 letters/digits)."""
    ori = st.text(st.sampled_from(_UPPER_ALNUM), min_size=7, max_size=7).map("CA".__add__)
    return st.builds(Court, ori=ori, name=texts(), county=st.none() | texts(3))


def person_identifiers() -> st.SearchStrategy[PersonIdentifier]:
    """An identifier (driver's licence, CII, ...) with its issuer and expiry maybe absent."""
    return st.builds(
        PersonIdentifier,
        kind=st.sampled_from(IdentifierKind),
        value=tokens(20),
        issuer=st.none() | st.sampled_from(_STATES),
        expires_year=st.none() | st.integers(1900, 2200),
    )


def _birth_dates(earliest: dt.date, latest: dt.date) -> st.SearchStrategy[dt.date]:
    return st.dates(min_value=earliest, max_value=latest)


def restrained_persons(
    issued_on: dt.date = REFERENCE_ISSUE_DATE,
) -> st.SearchStrategy[RestrainedPerson]:
    """A restrained person with NCIC descriptors, each optional one present or absent."""
    if issued_on != REFERENCE_ISSUE_DATE:
        return _RESTRAINED.map(lambda p: _born_relative_to(p, issued_on))
    return _RESTRAINED


def _restrained_persons() -> st.SearchStrategy[RestrainedPerson]:
    issued_on = REFERENCE_ISSUE_DATE
    return st.builds(
        RestrainedPerson,
        name=person_names(),
        aliases=st.lists(person_names(), max_size=2).map(tuple),
        sex=st.sampled_from(Sex),
        race=_RACES,
        birth_date=st.none() | _birth_dates(issued_on - _LIFESPAN, issued_on),
        height_inches=st.none() | st.integers(12, 107),
        weight_pounds=st.none() | st.integers(1, 999),
        eye_color=st.none() | st.sampled_from(EyeColor),
        hair_color=st.none() | st.sampled_from(HairColor),
        skin_tone=st.none() | st.sampled_from(SkinTone),
        ethnicity=st.none() | st.sampled_from(Ethnicity),
        scars_marks_tattoos=st.lists(texts(5) | _SMT, max_size=2).map(tuple),
        identifiers=st.lists(person_identifiers(), max_size=2).map(tuple),
    )


def protected_persons(
    issued_on: dt.date = REFERENCE_ISSUE_DATE,
) -> st.SearchStrategy[ProtectedPerson]:
    """A protected adult or minor child; the birth date, when known, agrees with is_minor."""
    if issued_on != REFERENCE_ISSUE_DATE:
        return _PROTECTED.map(lambda p: _born_relative_to(p, issued_on))
    return _PROTECTED


def _protected_persons() -> st.SearchStrategy[ProtectedPerson]:
    issued_on = REFERENCE_ISSUE_DATE

    def person(is_minor: bool) -> st.SearchStrategy[ProtectedPerson]:
        if is_minor:
            born = _birth_dates(issued_on - _UNDER_18, issued_on)
        else:
            born = _birth_dates(issued_on - _LIFESPAN, issued_on - _OVER_18)
        return st.builds(
            ProtectedPerson,
            name=person_names(),
            sex=st.sampled_from(Sex),
            race=_RACES,
            birth_date=st.none() | born,
            relationship=st.sampled_from(Relationship),
            is_minor=st.just(is_minor),
        )

    return st.one_of(person(False), person(True))


_RESTRAINED = _restrained_persons()
_PROTECTED = _protected_persons()


_Person = TypeVar("_Person", RestrainedPerson, ProtectedPerson)


def _born_relative_to(person: _Person, issued_on: dt.date) -> _Person:
    """The person with their birth date moved so their age on `issued_on` is what it was
    on the reference date (shifted by whole days: the margins around 18 are kept)."""
    if person.birth_date is None:
        return person
    shift = issued_on - REFERENCE_ISSUE_DATE
    return person.model_copy(update={"birth_date": person.birth_date + shift})


def conditions() -> st.SearchStrategy[tuple[Condition, ...]]:
    """Distinct NCIC condition codes in any order, each maybe with the order's words."""
    condition_text = st.none() | texts(6)

    @st.composite
    def draw_conditions(draw: st.DrawFn) -> tuple[Condition, ...]:
        codes = draw(st.permutations(list(ConditionCode)))[: draw(st.integers(0, 9))]
        return tuple(Condition(code=code, text=draw(condition_text)) for code in codes)

    return draw_conditions()


def order_images() -> st.SearchStrategy[OrderImage]:
    """A reference to the signed order PDF with its SHA-256 (https only: engine.attachments)."""
    uri = st.builds(
        "{}://{}/orders/{}.pdf".format,
        st.just("https"),
        st.sampled_from(("cms.court.example", "docs.example.org", "bucket-7.example.net")),
        tokens(30),
    )
    sha = st.binary(min_size=32, max_size=32).map(bytes.hex)
    return st.builds(OrderImage, uri=uri, sha256=sha)


_SERVED_BY = st.none() | texts(5)
_SERVICE_DELAYS = st.timedeltas(dt.timedelta(0), dt.timedelta(days=60))


def _service(draw: st.DrawFn, issued_at: dt.datetime, must_be_served: bool,
             before: bool = False) -> Service:
    """Served after issuance, or (``before``: a serve's proof, filed at ``issued_at``)
    before it."""
    if must_be_served or draw(st.booleans()):
        delay = draw(_SERVICE_DELAYS)
        served_at = (issued_at - delay if before else issued_at + delay).astimezone(
            draw(_TIMEZONES))
        return Service(status=ServiceStatus.SERVED, served_at=served_at,
                       served_by=draw(_SERVED_BY))
    return Service(status=ServiceStatus.NOT_SERVED, served_by=draw(_SERVED_BY))


_TIMEZONES = st.sampled_from(TIMEZONES)
_ISSUED_AT = st.datetimes(_EARLIEST_ISSUE, _LATEST_ISSUE, timezones=_TIMEZONES)
_VERSIONS_AFTER_FIRST = st.integers(2, 6) | st.integers(2, 100_000)
#: Up to 3 restrained and 6 protected persons keep each example well under hypothesis'
#: data budget; the model's own limits (5 and 20) are tested in test_model_properties.py.
_RESTRAINED_LISTS = st.lists(_RESTRAINED, min_size=1, max_size=3)
_PROTECTED_LISTS = st.lists(_PROTECTED, min_size=1, max_size=6)
_CONDITIONS = conditions()
_COURTS = courts()
_TOKENS = tokens()
_OFFICERS = st.none() | texts(4)
_MISCELLANEOUS = texts(20)
_FIREARMS = st.builds(Firearms, relinquishment_ordered=st.booleans(),
                      brady_indicator=st.booleans())
_IMAGES = st.none() | order_images()


@st.composite
def _orders(
    draw: st.DrawFn, action: Action | None, order_type: OrderType | None
) -> Order:
    issued_at = draw(_ISSUED_AT)
    # The court's date of issuance (engine.law.court_time): the shipped config gives every
    # court the same zone, so any ORI answers for the court drawn below.
    issued_on = court_date("CA0000000", issued_at)
    if action is None:
        action = draw(st.sampled_from(Action))
    version = 1 if action is Action.ISSUE else draw(_VERSIONS_AFTER_FIRST)
    order_type = order_type or draw(st.sampled_from(OrderType))
    conds = draw(_CONDITIONS)
    needs_misc = any(c.code is ConditionCode.SEE_MISCELLANEOUS for c in conds)
    miscellaneous = draw(_MISCELLANEOUS) if needs_misc or draw(st.booleans()) else None
    protected = tuple(_born_relative_to(p, issued_on) for p in draw(_PROTECTED_LISTS))
    service = _service(draw, issued_at, must_be_served=action is Action.SERVE,
                       before=action is Action.SERVE)
    order = Order(
        court=draw(_COURTS),
        case_number=draw(_TOKENS),
        order_id=draw(_TOKENS),
        version=version,
        action=action,
        order_type=order_type,
        judicial_officer=draw(_OFFICERS),
        issued_at=issued_at,
        effective_date=issued_on,
        expiration_date=None,
        restrained_persons=tuple(_born_relative_to(p, issued_on) for p in draw(_RESTRAINED_LISTS)),
        protected_persons=protected,
        conditions=conds,
        miscellaneous=miscellaneous,
        firearms=_lawful_firearms(draw(_FIREARMS), order_type, protected),
        service=service,
        image=draw(_IMAGES),
    )
    return _lawful_dates(draw, order)


def _lawful_firearms(firearms: Firearms, order_type: OrderType,
                     protected: tuple[ProtectedPerson, ...]) -> Firearms:
    """BRD/Y only where 18 U.S.C. 922(g)(8) can apply (`engine.law.rules`)."""
    possible = (rule_for(order_type).hearing_with_notice is not False
                and any(p.relationship in BRADY_PROTECTED for p in protected))
    return firearms if possible else firearms.model_copy(update={"brady_indicator": False})


def _lawful_dates(draw: st.DrawFn, order: Order) -> Order:
    """Effective and expiration dates the law allows: the effective date on or after the
    issuance (a serve's on or before its service), the end within the statutory maximum,
    and no end only where the law gives a default or sets no limit."""
    calendar = DEFAULT_POLICY.calendar_for(order.court.ori)
    if order.action is Action.SERVE:
        assert order.service.served_at is not None
        served_on = order.service.served_at.astimezone(calendar.zone).date()
        effective = served_on - dt.timedelta(days=draw(st.integers(0, 30)))
    else:
        effective = order.effective_date + dt.timedelta(days=draw(st.integers(0, 30)))
    latest = latest_expiration(order.model_copy(update={"effective_date": effective}),
                               calendar)
    if latest is not None and latest < effective:  # an issue's term runs from issuance
        effective = max(order.effective_date, latest)
    dated = order.model_copy(update={"effective_date": effective})
    latest = latest_expiration(dated, calendar)
    may_be_open = order.action is not Action.EXTEND and (
        latest is None or default_expiration(dated, calendar) is not None)
    if may_be_open and draw(st.booleans()):
        return dated
    longest = 3650 if latest is None else (latest - effective).days
    expiration = effective + dt.timedelta(days=draw(st.integers(0, longest)))
    return dated.model_copy(update={"expiration_date": expiration})


def orders(
    *, action: Action | None = None, order_type: OrderType | None = None
) -> st.SearchStrategy[Order]:
    """Valid canonical orders (each passes `check_order`); pin `action` or `order_type`."""
    return _orders(action, order_type)


@st.composite
def mutated_bytes(draw: st.DrawFn, sample: bytes) -> bytes:
    """``sample`` with 1-4 runs of bytes cut, replaced or inserted: input that is almost
    right, where parsers' edge cases live (for fuzzing decoders and mappings)."""
    raw = bytearray(sample)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(raw)))
        action = draw(st.sampled_from(["cut", "replace", "insert"]))
        chunk = draw(st.binary(min_size=1, max_size=6))
        if action == "cut":
            del raw[at:at + len(chunk)]
        elif action == "replace":
            raw[at:at + len(chunk)] = chunk
        else:
            raw[at:at] = chunk
    return bytes(raw)
