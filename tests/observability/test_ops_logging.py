"""Redacted JSON logs: no person's name, birth date or identifier reaches a log line."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from hypothesis import given, settings
from pydantic import ValidationError

from engine.canonical import decode_order, order_to_dict
from engine.errors import FieldError, OrderInvalid, RenderError
from engine.model import Order, PersonName
from engine.observability.logging import (
    REDACTED,
    PiiRedactor,
    bind_order,
    configure_logging,
    redacting,
    render_exception,
    sensitive_values,
)
from tests.strategies import orders

FIXTURES = sorted((Path(__file__).parents[1] / "fixtures" / "orders").glob("*.json"))


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    """Engine logging configured into a buffer; global logging state restored after."""
    buffer = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure_logging("DEBUG", json=True, stream=buffer)
    yield buffer
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def personal_values(order: Order) -> set[str]:
    """Every name part, birth date and identifier of every person in the order, of 2 or more
    characters (single letters, like a middle initial, are below what can be redacted)."""
    values: set[str] = set()
    for person in (*order.restrained_persons, *order.protected_persons):
        for name in (person.name, *getattr(person, "aliases", ())):
            values |= {p for p in (name.surname, name.given, name.middle) if p and len(p) > 1}
        if person.birth_date:
            values |= {person.birth_date.isoformat(), f"{person.birth_date:%m/%d/%Y}"}
        values |= {i.value for i in getattr(person, "identifiers", ())}
    return {v for v in values if len(v) > 1}


def appears(value: str, text: str) -> bool:
    """Whether ``value`` is in ``text`` as a word of its own, case-insensitive (the middle
    name "Lan" is not in "islander", the alias "Mark" not in "scars_marks_tattoos")."""
    return re.search(rf"(?<!\w){re.escape(value)}(?!\w)", text, re.IGNORECASE) is not None


def careless_logging(order: Order) -> None:
    """Log calls a hurried developer might write while handling an order."""
    log = structlog.get_logger("engine.intake.pipeline")
    lib = logging.getLogger("pika.adapters")
    data = order_to_dict(order)
    person = order.protected_persons[0]
    restrained = order.restrained_persons[0]
    # Outside any order context: the personal data travels with the call.
    log.info("received order", order=order)
    log.info("received order", order=data)
    log.info("received order", **data)
    log.info(f"protecting {person.name.given} {person.name.surname}", person=person)
    log.info("restrained", name=restrained.name.model_dump(), dob=restrained.birth_date,
             surname=restrained.name.surname)
    log.warning("order payload", reason=json.dumps(data, default=str))
    lib.warning("publishing %r", data)
    bad = {**data, "restrained_persons": [{**data["restrained_persons"][0], "sex": "??"}]}
    try:
        Order.model_validate(bad)
    except ValidationError as exc:
        log.exception("bad order")
        log.error("bad order", error=str(exc), payload=bad)
        with redacting(bad):
            log.error(f"could not validate: {exc}")
            lib.error("validation failed: %s", exc)
    # Inside the pipeline's order context (bind_order), even bare text is masked.
    with bind_order(order):
        log.info(f"order for {person.name.surname}, born {person.birth_date}")
        log.info(f"order {order!r}")
        lib.info("row %s", data)
        try:
            raise RenderError(f"cannot render {restrained.name.surname} "
                              f"({restrained.birth_date})")
        except RenderError:
            log.exception("render failed")
        try:
            raise OrderInvalid([FieldError("restrained_persons.0.birth_date",
                                           f"{restrained.birth_date} is in the future")])
        except OrderInvalid as exc:
            log.error("invalid", error=str(exc), reason=repr(exc))


class TestNoPersonalDataInLogs:
    @pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
    def test_careless_logging_of_fixture_orders_leaks_nothing(
            self, path: Path, output: io.StringIO) -> None:
        """Every careless log call about a fixture order leaves no name part, DOB or id."""
        order = decode_order(path.read_bytes())
        careless_logging(order)
        records = lines(output)
        assert len(records) >= 15
        text = "\n".join(json.dumps(r, ensure_ascii=False) for r in records)
        leaked = {v for v in personal_values(order)
                  if appears(v, text) or appears(v, output.getvalue())}
        assert leaked == set()

    @pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
    def test_safe_identifiers_still_reach_the_log(self, path: Path,
                                                  output: io.StringIO) -> None:
        """Redaction keeps what on-call needs: the order key, type and court."""
        order = decode_order(path.read_bytes())
        with bind_order(order, mcn="MCN0001"):
            structlog.get_logger().info("sent", destination="carpos", attempt=2)
        (record,) = lines(output)
        assert record["order_key"] == order.key
        assert record["order_type"] == order.order_type.value
        assert (record["court"], record["mcn"], record["attempt"]) == (
            order.court.ori, "MCN0001", 2)


class TestValuesMaskedInFreeText:
    """Personal values the allow-list cannot catch: they sit in free text under a safe key,
    outside any JSON key the keyed-value layer knows."""

    def test_a_drivers_licence_number_does_not_reach_the_log(
            self, output: io.StringIO) -> None:
        """An identifier (a driver's licence number) is masked in free text, both inside
        the order's context and when the order travels with the call."""
        order = decode_order((FIXTURES[0].parent / "ch_oah_modify.json").read_bytes())
        (licence,) = (i.value for i in order.restrained_persons[0].identifiers
                      if i.kind.value == "drivers_license")
        log = structlog.get_logger("engine.intake.pipeline")
        with bind_order(order):
            log.warning(f"DMV lookup failed for licence {licence}")
        log.error("lookup failed", reason=f"no DMV record for {licence}", order=order)
        records = lines(output)
        assert [r["event"] for r in records] == [
            f"DMV lookup failed for licence {REDACTED}", "lookup failed"]
        assert records[1]["reason"] == f"no DMV record for {REDACTED}"
        assert licence not in output.getvalue()
        assert licence in sensitive_values(order)

    def test_json_escaped_names_do_not_reach_the_log(self, output: io.StringIO) -> None:
        """A name with non-ASCII letters inside a JSON body appears escaped
        (``Nguy\\u1ec5n``): the escaped form is masked like the plain one."""
        order = decode_order(FIXTURES[0].read_bytes())
        person = order.protected_persons[0]
        nguyen = person.model_copy(update={"name": PersonName(surname="Nguyễn", given="Thị")})
        order = order.model_copy(update={"protected_persons": (nguyen,)})
        body = json.dumps({"message": "unknown party Nguyễn Thị"})
        assert "Nguy\\u1ec5n" in body  # what the receiver's JSON error body carries
        with bind_order(order):
            structlog.get_logger().warning("receiver refused", reason=body)
        (record,) = lines(output)
        assert record["reason"] == json.dumps({"message": f"unknown party {REDACTED} {REDACTED}"})
        assert "u1ec5" not in output.getvalue() and "Nguy" not in output.getvalue()


class TestPiiRedactor:
    def _run(self, **event: Any) -> dict[str, Any]:
        return PiiRedactor()(None, "info", {"event": "x", **event})

    def test_unknown_keys_are_dropped_and_counted(self) -> None:
        """Keys outside the allow-list vanish; only their number is kept."""
        assert self._run(case_number="FL-1", address="1 Main St", state="sent") == {
            "event": "x", "state": "sent", "redacted_fields": 2}

    def test_order_key_passes_an_order_object_does_not(self) -> None:
        """``order=`` keeps an order key string; anything else under it is [redacted]."""
        assert self._run(order="CA019015J/LA-DV-2024-000123#2")["order"] == \
            "CA019015J/LA-DV-2024-000123#2"
        assert self._run(order="Ana Ramírez")["order"] == REDACTED
        assert self._run(order={"protected_persons": []})["order"] == REDACTED

    def test_structured_values_under_safe_keys_are_redacted(self) -> None:
        """A dict or an object under an allowed key becomes [redacted]."""
        out = self._run(reason={"given": "Ana"}, error=object(), paths=["a.b", "c"])
        assert (out["reason"], out["error"], out["paths"]) == (REDACTED, REDACTED, ["a.b", "c"])

    def test_bare_dates_masked_timestamps_kept(self) -> None:
        """A date without a time (likely a DOB) is masked; a timestamp is kept."""
        out = self._run(reason="born 1984-03-17 or 3/17/1984 or 19840317",
                        due_at=dt.datetime(2026, 11, 23, 18, tzinfo=dt.UTC),
                        error="due 2026-11-23T18:00:00+00:00")
        assert out["reason"] == f"born {REDACTED} or {REDACTED} or {REDACTED}"
        assert out["due_at"] == "2026-11-23T18:00:00+00:00"
        assert out["error"] == "due 2026-11-23T18:00:00+00:00"

    def test_scars_list_in_text_is_masked(self) -> None:
        """A scars/marks list inside a JSON or repr string is masked as a whole."""
        out = self._run(reason='{"scars_marks_tattoos": ["rose, left \\"arm\\"", "scar]"], '
                               '"sex": "male"}')
        assert out["reason"] == '{"scars_marks_tattoos": [[redacted]], "sex": "male"}'

    def test_short_names_masked_only_as_words(self) -> None:
        """A two-letter surname is masked as a word but not inside other words."""
        with redacting({"protected_persons": [{"name": {"surname": "Li"}}]}):
            out = self._run(reason="Li filed on Line 4")
        assert out["reason"] == f"{REDACTED} filed on Line 4"

    def test_date_values_are_masked_unless_date_masking_is_off(self) -> None:
        """A date object under a safe key is [redacted] (most likely a birth date); with
        mask_dates=False it is kept as an ISO date."""
        born = dt.date(1984, 3, 17)
        assert self._run(reason=born)["reason"] == REDACTED
        kept = PiiRedactor(mask_dates=False)(None, "info", {"event": "x", "reason": born})
        assert kept["reason"] == "1984-03-17"

    def test_exc_info_true_renders_the_current_exception(self) -> None:
        """``exc_info=True`` (the stdlib way) renders the exception being handled."""
        try:
            raise KeyError("x")
        except KeyError:
            out = self._run(exc_info=True)
        assert out["error_type"] == "KeyError"

    def test_an_exception_that_holds_itself_is_harvested_without_looping(self) -> None:
        """An exception whose arguments refer back to it (a cycle) still gets its person
        values masked, and the redactor does not recurse for ever."""
        exc = ValueError({"surname": "Okonkwo"})
        exc.args = (*exc.args, exc)
        out = self._run(exc_info=exc, reason="Okonkwo refused")
        assert out["reason"] == f"{REDACTED} refused"

    def test_a_person_six_levels_deep_is_still_harvested(self) -> None:
        """Harvesting follows nested data six levels below the event (an order inside a
        batch inside a message...); a name found there is masked in the text."""
        nested: dict[str, Any] = {"surname": "Okonkwo"}
        for level in range(5):
            nested = {f"level{level}": nested}
        assert self._run(payload=nested, reason="Okonkwo refused")["reason"] == \
            f"{REDACTED} refused"

    def test_a_longer_value_is_masked_whole_before_a_shorter_one_inside_it(self) -> None:
        """"Annabel" is masked as one value, not as "Anna" followed by a readable "bel"."""
        with redacting({"protected_persons": [{"name": {"surname": "Annabel",
                                                        "given": "Anna"}}]}):
            assert self._run(reason="Annabel and Anna")["reason"] == \
                f"{REDACTED} and {REDACTED}"

    def test_data_that_contains_itself_is_harvested_without_looping(self) -> None:
        """A dict or list that refers back to itself still has its names masked."""
        person: dict[str, Any] = {"surname": "Okonkwo"}
        person["self"] = person
        listed: list[Any] = [{"surname": "Lindqvist"}]
        listed.append(listed)
        out = self._run(payload=person, extra=listed, reason="Okonkwo, Lindqvist")
        assert out["reason"] == f"{REDACTED}, {REDACTED}"

    def test_scars_marks_and_tattoos_are_masked_in_free_text(self) -> None:
        """A tattoo description identifies a person as well as a name does."""
        order = {"restrained_persons": [{"name": {"surname": "Okonkwo"},
                                         "scars_marks_tattoos": ["rose on left wrist"]}]}
        with redacting(order):
            out = self._run(reason="suspect has a rose on left wrist")
        assert out["reason"] == f"suspect has a {REDACTED}"

    def test_the_bridge_keys_are_not_counted_as_dropped(self) -> None:
        """The stdlib bridge's own keys (positional_args, stack_info) are harvested and
        dropped, but not counted as the caller's dropped fields."""
        out = self._run(positional_args=("a",), stack_info=None, state="SENT")
        assert out == {"event": "x", "state": "SENT"}

    def test_rules_for_short_and_long_values(self) -> None:
        """Values of 4+ characters are masked wherever they appear (GarciaLopez, Rosalind),
        shorter ones only as words (Lan is not masked in "islander"), single letters (a
        middle initial) not at all."""
        person = {"name": {"surname": "Garcia", "given": "Rosa", "middle": "Q"}}
        with redacting({"protected_persons": [person, {"name": {"surname": "Lan"}}]}):
            out = self._run(reason="Rosalind GarciaLopez, Q Street, islander, Lan")
        assert out["reason"] == (f"{REDACTED}lind {REDACTED}Lopez, Q Street, islander, "
                                 f"{REDACTED}")

    def test_addresses_are_masked_in_free_text(self) -> None:
        """An address, street or city of a person is personal data like a name."""
        person = {"name": {"surname": "Okonkwo"}, "address": "1200 Elm Ave",
                  "city": "Bakersfield"}
        with redacting({"protected_persons": [person]}):
            out = self._run(reason="served at 1200 Elm Ave, Bakersfield")
        assert out["reason"] == f"served at {REDACTED}, {REDACTED}"

    def test_an_identifier_without_a_value_is_skipped(self) -> None:
        """Half-filled input (an identifier with no value) is harvested without failing."""
        order = {"restrained_persons": [{"name": {"surname": "Okonkwo"},
                                         "identifiers": [{"kind": "ssn"}, "B1234567"]}]}
        with redacting(order):
            assert self._run(reason="Okonkwo")["reason"] == REDACTED

    def test_a_person_deep_in_an_exceptions_arguments_is_harvested(self) -> None:
        """An exception carrying nested data (a failed batch) has its names masked too."""
        nested: dict[str, Any] = {"surname": "Okonkwo"}
        for level in range(5):
            nested = {f"level{level}": nested}
        out = self._run(exc_info=ValueError(nested), reason="Okonkwo refused")
        assert out["reason"] == f"{REDACTED} refused"

    def test_a_model_five_levels_deep_is_harvested(self) -> None:
        """A name model (PersonName) nested in data is harvested like a dict."""
        nested: Any = PersonName(surname="Okonkwo")
        for level in range(4):
            nested = {f"level{level}": nested} if level % 2 else [nested]
        assert self._run(payload=nested, reason="Okonkwo")["reason"] == REDACTED

    def test_exc_info_as_a_tuple_renders_the_exception(self) -> None:
        """``exc_info=sys.exc_info()`` (a tuple) renders the exception it holds."""
        import sys

        try:
            raise KeyError("x")
        except KeyError:
            out = self._run(exc_info=sys.exc_info())
        assert out["error_type"] == "KeyError"

    def test_event_must_be_allowed(self) -> None:
        """An allow-list without 'event' is a configuration mistake."""
        with pytest.raises(ValueError, match="event"):
            PiiRedactor(safe_keys={"state"})

    def test_redacting_context_ends_with_the_block(self) -> None:
        """Values registered by redacting() are masked only inside the block."""
        with redacting({"protected_persons": [{"name": {"surname": "Okonkwo"}}]}):
            inside = self._run(reason="Okonkwo")["reason"]
        assert (inside, self._run(reason="Okonkwo")["reason"]) == (REDACTED, "Okonkwo")


class TestExceptions:
    def test_foreign_exception_keeps_type_and_frames_only(self) -> None:
        """A library exception's message (which may echo input) is not rendered."""
        try:
            raise ValueError("input_value='Ana Ramírez'")
        except ValueError as exc:
            rendered = render_exception(exc)
        assert rendered["error_type"] == "ValueError"
        assert "error" not in rendered
        assert "Ramírez" not in json.dumps(rendered, ensure_ascii=False)
        assert any("test_foreign_exception" in f for f in rendered["traceback"])

    def test_a_chained_exception_names_its_cause_not_itself(self) -> None:
        """``raise ... from`` renders the frames of both, marking the cause as the cause."""
        try:
            try:
                raise KeyError("inner")
            except KeyError as inner:
                raise ValueError("outer") from inner
        except ValueError as exc:
            rendered = render_exception(exc)
        assert "caused by KeyError" in rendered["traceback"]
        assert "caused by ValueError" not in rendered["traceback"]

    def test_an_exception_raised_while_handling_another_names_it(self) -> None:
        """Implicit chaining (an error inside an ``except``) is followed like ``from``."""
        try:
            try:
                raise KeyError("inner")
            except KeyError:
                raise ValueError("outer")  # noqa: B904 - the implicit chain is the point
        except ValueError as exc:
            rendered = render_exception(exc)
        assert "caused by KeyError" in rendered["traceback"]

    def test_engine_error_keeps_message_and_paths(self) -> None:
        """An engine error's message and field paths are rendered (they carry no values)."""
        exc = OrderInvalid([FieldError("service.served_at", "is before issuance")])
        rendered = render_exception(exc)
        assert rendered["error"] == "service.served_at: is before issuance"
        assert rendered["reason_paths"] == ["service.served_at"]


class TestConfiguration:
    def test_lines_are_json_with_sorted_keys_and_utc_timestamps(
            self, output: io.StringIO) -> None:
        """One JSON object per line, keys sorted (stable for diffs and shippers), the
        timestamp in UTC."""
        structlog.get_logger("engine.x").info("sent", state="SENT", attempt=1)
        (line,) = output.getvalue().splitlines()
        record = json.loads(line)
        assert list(record) == sorted(record)
        assert record["timestamp"].endswith("Z")

    def test_console_lines_have_no_colour_codes(self) -> None:
        """json=False writes plain text (no ANSI colour escapes in log files)."""
        buffer = io.StringIO()
        root = logging.getLogger()
        handlers = list(root.handlers)
        try:
            configure_logging("INFO", json=False, stream=buffer)
            structlog.get_logger().warning("hello", state="sent")
        finally:
            structlog.reset_defaults()
            root.handlers[:] = handlers
        assert "hello" in buffer.getvalue() and "\x1b[" not in buffer.getvalue()

    def test_library_percent_arguments_are_harvested(self, output: io.StringIO) -> None:
        """A library's %-arguments are seen by the redactor, so a person passed as one is
        masked wherever the line mentions the name."""
        logging.getLogger("pika.x").warning("%s: %s", {"surname": "Okonkwo"},
                                            "Okonkwo unreachable")
        assert "Okonkwo" not in output.getvalue()
        assert lines(output)[0]["event"].endswith(f"{REDACTED} unreachable")

    def test_configuring_keeps_other_handlers(self, output: io.StringIO) -> None:
        """configure_logging replaces only its own handler, not one a host app added."""
        other = logging.StreamHandler(io.StringIO())
        logging.getLogger().addHandler(other)
        configure_logging("DEBUG", stream=output)
        assert other in logging.getLogger().handlers

    def test_the_level_may_be_a_number_or_any_case_name(self, output: io.StringIO) -> None:
        """``logging.WARNING`` and ``"warning"`` both set the level."""
        configure_logging(logging.WARNING, stream=output)
        assert logging.getLogger().level == logging.WARNING
        configure_logging("error", stream=output)
        assert logging.getLogger().level == logging.ERROR

    def test_console_mode_is_redacted_too(self) -> None:
        """json=False renders a readable line through the same redactor."""
        buffer = io.StringIO()
        root = logging.getLogger()
        handlers = list(root.handlers)
        try:
            configure_logging("INFO", json=False, stream=buffer)
            structlog.get_logger().info("hello", surname="Ramírez", state="sent")
        finally:
            structlog.reset_defaults()
            root.handlers[:] = handlers
        assert "hello" in buffer.getvalue()
        assert "Ramírez" not in buffer.getvalue()

    def test_reconfiguring_does_not_duplicate_lines(self, output: io.StringIO) -> None:
        """Calling configure_logging twice still writes each line once."""
        configure_logging("DEBUG", stream=output)
        structlog.get_logger().info("once")
        assert [r["event"] for r in lines(output)] == ["once"]

    def test_level_filters(self, output: io.StringIO) -> None:
        """Lines below the configured level are not written."""
        configure_logging("WARNING", stream=output)
        structlog.get_logger().info("quiet")
        logging.getLogger("sqlalchemy").info("quiet too")
        structlog.get_logger().warning("loud")
        assert [r["event"] for r in lines(output)] == ["loud"]

    def test_sensitive_values_of_an_order(self) -> None:
        """sensitive_values lists name parts and birth dates of both sides."""
        order = decode_order(FIXTURES[0].read_bytes())
        values = sensitive_values(order)
        assert order.protected_persons[0].name.surname in values
        assert order.restrained_persons[0].name.surname in values


def _anonymised(order: Order) -> Order:
    """The same order, same shape, with every name, birth date and identifier value
    replaced by a placeholder."""
    placeholder = PersonName(surname="Placeholder", given="Person")

    def clean(person: Any) -> Any:
        update: dict[str, Any] = {"name": placeholder, "birth_date": None}
        if hasattr(person, "aliases"):
            update |= {
                "aliases": tuple(placeholder for _ in person.aliases),
                "identifiers": tuple(i.model_copy(update={"value": "PLACEHOLDER0"})
                                     for i in person.identifiers)}
        return person.model_copy(update=update)

    return order.model_copy(update={
        "restrained_persons": tuple(clean(p) for p in order.restrained_persons),
        "protected_persons": tuple(clean(p) for p in order.protected_persons)})


def _log_output(order: Order) -> str:
    buffer = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        configure_logging("DEBUG", stream=buffer)
        careless_logging(order)
    finally:
        structlog.reset_defaults()
        root.handlers[:] = handlers
        root.setLevel(level)
    return "\n".join(json.dumps(json.loads(line), ensure_ascii=False)
                     for line in buffer.getvalue().splitlines())


def _count(value: str, text: str) -> int:
    return len(re.findall(rf"(?<!\w){re.escape(value)}(?!\w)", text, re.IGNORECASE))


class TestNoPersonalDataProperty:
    @settings(max_examples=60, deadline=None)
    @given(order=orders())
    def test_personal_values_add_nothing_to_the_logs(self, order: Order) -> None:
        """For any valid order, careless logging shows no personal value more often than
        the same logging of the order with placeholders instead of people (a name that is
        also an ordinary word, like "White", may appear only where the word does)."""
        with_people = _log_output(order)
        without = _log_output(_anonymised(order))
        leaked = {v for v in personal_values(order)
                  if _count(v, with_people) > _count(v, without)}
        assert leaked == set()
