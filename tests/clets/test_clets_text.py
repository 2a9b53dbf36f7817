"""Text rules: transliteration to upper-case ASCII, character sets, NCIC name form."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.clets.text import (
    NAME_STEPS,
    compound_surname_parts,
    fit_to_charset,
    format_ncic_name,
    transliterate,
)
from engine.model import PersonName

NAME_SET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ ,-")
TEXT_SET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,-/'#&():;")
#: Every letter of Latin-1 Supplement and Latin Extended-A.
LATIN_LETTERS = [chr(c) for c in range(0xC0, 0x180) if chr(c).isalpha()]


class TestTransliterate:
    @pytest.mark.parametrize(("given_text", "expected"), [
        ("Nguyễn", "NGUYEN"), ("García", "GARCIA"), ("Åsa", "ASA"), ("Straße", "STRASSE"),
        ("Łukasz", "LUKASZ"), ("Øystein", "OYSTEIN"), ("Þór", "THOR"), ("Œuvre", "OEUVRE"),
        ("O\u2019Brien", "O'BRIEN"), ("Thị", "THI"), ("e\u0301", "E"),
    ])
    def test_known_spellings(self, given_text, expected):
        """Accented and special Latin letters become their plain upper-case letters."""
        assert transliterate(given_text).text == expected
        assert transliterate(given_text).lost == 0

    def test_letters_without_ascii_form_are_counted_not_guessed(self):
        """CJK and Cyrillic letters are counted as lost, never replaced by a guess."""
        result = transliterate("李Иван")
        assert result.lost == 5
        assert result.text == ""

    def test_every_latin_letter_has_a_form(self):
        """Every Latin-1 and Latin Extended-A letter transliterates without loss."""
        assert [c for c in LATIN_LETTERS if transliterate(c).lost] == []

    @given(st.text())
    def test_output_is_upper_case_ascii(self, text):
        """For any text, transliteration yields only upper-case ASCII."""
        out = transliterate(text).text
        assert out.isascii()
        assert out == out.upper()

    @given(st.text(), st.sampled_from([NAME_SET, TEXT_SET, frozenset("0123456789")]))
    def test_fitted_text_stays_in_the_set(self, text, allowed):
        """For any text and set, fitted text uses only characters of that set."""
        assert set(fit_to_charset(text, allowed).text) <= allowed

    @given(st.text(alphabet=st.sampled_from([*LATIN_LETTERS, " ", "-"]), min_size=1))
    def test_latin_text_loses_nothing(self, text):
        """Latin letters, blanks and hyphens fit the name set (apostrophes dropped) losslessly."""
        assert fit_to_charset(text, NAME_SET, drop="'.").lost == 0


class TestNcicName:
    def test_full_name_form(self):
        """A name renders as SURNAME,GIVEN MIDDLE SUFFIX with apostrophes dropped."""
        name = PersonName(surname="O'Brien", given="Patrick", middle="Sean", suffix="JR")
        fitted, truncated = format_ncic_name(name, NAME_SET, "'.", 30)
        assert (fitted.text, truncated) == ("OBRIEN,PATRICK SEAN JR", ())

    def test_single_name_keeps_the_comma(self):
        """A person with only a surname renders as SURNAME, (the comma marks the surname)."""
        fitted, _ = format_ncic_name(PersonName(surname="Madonna"), NAME_SET, "'.", 30)
        assert fitted.text == "MADONNA,"

    def test_truncation_shortens_middle_then_given_to_initials(self):
        """A long name keeps the whole surname and the comma; the middle name becomes its
        initial, then the given name (NCIC Personal Descriptors 2.1), never cut mid-word."""
        name = PersonName(surname="Wolfeschlegelstein", given="Hubert", middle="Blaine")
        fitted, steps = format_ncic_name(name, NAME_SET, "'.", 24)
        assert steps == ("middle name reduced to its initial",
                         "given name reduced to its initial")
        assert fitted.text == "WOLFESCHLEGELSTEIN,H B"

    def test_overlong_surname_keeps_a_comma(self):
        """A surname longer than the field is cut so the comma still fits."""
        fitted, truncated = format_ncic_name(PersonName(surname="A" * 40), NAME_SET, "", 30)
        assert truncated
        assert fitted.text == "A" * 29 + ","

    def test_name_of_only_untransliterable_letters_counts_as_lost(self):
        """A part with no letter the set can carry is reported lost, not rendered empty."""
        fitted, _ = format_ncic_name(PersonName(surname="王", given="Li"), NAME_SET, "", 30)
        assert fitted.lost >= 1

    def test_decomposed_and_composed_spellings_agree(self):
        """NFC and NFD spellings of a name render the same."""
        nfc = PersonName(surname=unicodedata.normalize("NFC", "Nguyễn"))
        nfd = PersonName(surname=unicodedata.normalize("NFD", "Nguyễn"))
        assert (format_ncic_name(nfc, NAME_SET, "", 30)[0].text
                == format_ncic_name(nfd, NAME_SET, "", 30)[0].text == "NGUYEN,")

    def test_a_surname_filling_the_field_keeps_the_comma(self):
        """A surname as long as the field is cut to keep the comma and the given initial
        (NCIC: the given initial always stays); one two shorter than the field keeps both
        whole."""
        long_name = PersonName(surname="A" * 30, given="John")
        assert format_ncic_name(long_name, NAME_SET, "", 30)[0].text == "A" * 28 + ",J"
        shorter = PersonName(surname="B" * 28, given="John")
        assert format_ncic_name(shorter, NAME_SET, "", 30)[0].text == "B" * 28 + ",J"

    def test_a_name_of_exactly_the_field_length_is_not_truncated(self):
        """max_length is inclusive: a name that fills the field exactly is sent whole."""
        name = PersonName(surname="Abcdefghij", given="Klmnopqrs")  # "ABCDEFGHIJ,KLMNOPQRS"
        fitted, steps = format_ncic_name(name, NAME_SET, "", 20)
        assert (fitted.text, steps) == ("ABCDEFGHIJ,KLMNOPQRS", ())

    def test_letters_lost_inside_a_kept_part_are_counted(self):
        """A given name that keeps some letters but loses others counts what it lost."""
        name = PersonName(surname="Wei", given="李 Ming")
        fitted, _ = format_ncic_name(name, NAME_SET, "", 30)
        assert (fitted.text, fitted.lost) == ("WEI,MING", 1)


class TestFitBlanks:
    def test_ascii_control_characters_are_lost_not_passed_through(self):
        """Every ASCII character, DEL (0x7F) included, is either carried or counted lost."""
        fitted = fit_to_charset("A\x7fB\x00C", NAME_SET)
        assert (fitted.text, fitted.lost) == ("ABC", 2)

    def test_words_keep_one_space_where_the_set_has_a_space(self):
        """Runs of blanks become one space when the set carries spaces, and nothing when it
        does not (the words are joined)."""
        assert fit_to_charset("Ana   María\tLópez", NAME_SET).text == "ANA MARIA LOPEZ"
        assert fit_to_charset("12 34", frozenset("0123456789")).text == "1234"

    def test_plain_ascii_loses_nothing_and_the_result_is_immutable(self):
        """ASCII text (the common case, on its fast path) reports nothing lost; a Fitted
        result cannot be changed after the fact."""
        fitted = transliterate("O'Brien-Smith")
        assert (fitted.text, fitted.lost) == ("O'BRIEN-SMITH", 0)
        assert fit_to_charset("Smith", NAME_SET).lost == 0
        with pytest.raises(AttributeError):
            fitted.lost = 3  # type: ignore[misc]


def _name(max_length: int, surname: str, given: str | None = None, middle: str | None = None,
          suffix: str | None = None) -> tuple[str, tuple[str, ...]]:
    fitted, steps = format_ncic_name(
        PersonName(surname=surname, given=given, middle=middle, suffix=suffix), NAME_SET, "'.",
        max_length)
    assert fitted.lost == 0
    return fitted.text, steps


MIDDLE_INITIAL, FURTHER_GIVEN, GIVEN_INITIAL, MIDDLE_DROPPED, SURNAME_CUT = NAME_STEPS


class TestNcicNameShortening:
    """NCIC Personal Descriptors 2.1 as `format_ncic_name` applies it: each step taken only
    while the name is too long, in the order of `NAME_STEPS`, and said exactly; a step that
    would change nothing is not taken. Expected texts are counted by hand from the rules."""

    def test_the_steps_are_named_in_the_order_ncic_allows_them(self):
        assert NAME_STEPS == ("middle name reduced to its initial",
                              "further given names reduced to initials",
                              "given name reduced to its initial",
                              "middle initial dropped",
                              "surname shortened")

    def test_a_mark_split_off_inside_a_word_keeps_the_rest_of_it(self):
        """A combining accent after its letter adds nothing, and the letters after it stay
        (decomposed input that the model did not compose, e.g. text fields)."""
        assert transliterate("Jose\u0301phine").text == "JOSEPHINE"

    def test_a_middle_name_of_two_words_becomes_the_first_ones_initial(self):
        # In full "WOLFESCHLEGELSTEIN,HUBERT ANN MARIE" (35); with "A": 27.
        assert _name(27, "Wolfeschlegelstein", "Hubert", "Ann Marie") == (
            "WOLFESCHLEGELSTEIN,HUBERT A", (MIDDLE_INITIAL,))

    def test_a_middle_initial_already_is_not_reduced_again(self):
        # "WOLFESCHLEGELSTEIN,HUBERT B" (27) > 22: the middle is an initial already, so
        # the given name is the first to give way: "WOLFESCHLEGELSTEIN,H B" (22).
        assert _name(22, "Wolfeschlegelstein", "Hubert", "B") == (
            "WOLFESCHLEGELSTEIN,H B", (GIVEN_INITIAL,))

    def test_further_given_names_become_initials_before_the_first_given_name(self):
        # "FEATHERSTONEHAUGH,MARY ANN LOUISE" (33) -> "FEATHERSTONEHAUGH,MARY A L" (26).
        assert _name(26, "Featherstonehaugh", "Mary Ann Louise") == (
            "FEATHERSTONEHAUGH,MARY A L", (FURTHER_GIVEN,))

    def test_a_second_given_name_alone_is_reduced_too(self):
        # "FEATHERSTONEHAUGH,MARY ANN" (26) -> "FEATHERSTONEHAUGH,MARY A" (24).
        assert _name(24, "Featherstonehaugh", "Mary Ann") == (
            "FEATHERSTONEHAUGH,MARY A", (FURTHER_GIVEN,))

    def test_a_further_given_name_of_two_letters_is_reduced_too(self):
        # "FEATHERSTONEHAUGH,MARY JO" (25) -> "FEATHERSTONEHAUGH,MARY J" (24).
        assert _name(24, "Featherstonehaugh", "Mary Jo") == (
            "FEATHERSTONEHAUGH,MARY J", (FURTHER_GIVEN,))

    def test_further_given_initials_already_go_straight_to_the_given_initial(self):
        # "FEATHERSTONEHAUGH,MARY A" (24) > 22: nothing to reduce among the further given
        # names, so the given name goes to its initial, and the further ones go with it.
        assert _name(22, "Featherstonehaugh", "Mary A") == (
            "FEATHERSTONEHAUGH,M", (GIVEN_INITIAL,))

    def test_a_given_initial_already_goes_straight_to_the_surname(self):
        # "WOLFESCHLEGELSTEINHAUSEN,J" (26) > 20: the given initial stays; the surname is
        # cut to the 18 characters left.
        assert _name(20, "Wolfeschlegelsteinhausen", "J") == (
            "WOLFESCHLEGELSTEIN,J", (SURNAME_CUT,))

    def test_the_middle_initial_is_dropped_when_initials_are_not_enough(self):
        # "WOLFESCHLEGELSTEIN,H B" (22) > 20 -> "WOLFESCHLEGELSTEIN,H" (20).
        assert _name(20, "Wolfeschlegelstein", "Hubert", "Blaine") == (
            "WOLFESCHLEGELSTEIN,H", (MIDDLE_INITIAL, GIVEN_INITIAL, MIDDLE_DROPPED))

    def test_a_surname_is_cut_at_the_last_word_boundary_that_fits(self):
        # "DE LA CRUZ VILLANUEVA,A" (23) > 15: 13 characters for the surname,
        # "DE LA CRUZ VI", and "VI" would be a piece of a word: "DE LA CRUZ".
        assert _name(15, "De la Cruz Villanueva", "Ana") == (
            "DE LA CRUZ,A", (GIVEN_INITIAL, SURNAME_CUT))

    def test_a_cut_that_ends_a_word_keeps_every_word_before_it(self):
        # 5 characters for the surname: "AB CD", and a space follows: the cut is a word
        # boundary already.
        assert _name(7, "Ab Cd Ef", "J") == ("AB CD,J", (SURNAME_CUT,))

    def test_a_cut_after_a_one_letter_word_keeps_that_letter(self):
        # 5 characters: "Y ROD", a piece of a word; the boundary after "Y" leaves "Y".
        assert _name(7, "Y Rodriguezmartinez", "J") == ("Y,J", (SURNAME_CUT,))

    def test_a_cut_inside_a_hyphenated_surname_ends_before_the_hyphen(self):
        # 10 characters: "GARCIA-LOP": "GARCIA".
        assert _name(12, "García-López", "J") == ("GARCIA,J", (SURNAME_CUT,))

    def test_a_single_word_surname_is_cut_where_the_room_ends(self):
        assert _name(12, "Wolfeschlegelstein", "J") == ("WOLFESCHLE,J", (SURNAME_CUT,))

    def test_the_surnames_first_letter_stays_when_nothing_else_fits(self):
        # ",J III" takes 6 of 7: one letter of surname; with 6, still one letter (the whole
        # is then cut to the field: the field length is the hard limit).
        assert _name(7, "Washington", "James", suffix="III") == (
            "W,J III", (GIVEN_INITIAL, SURNAME_CUT))
        assert _name(6, "Washington", "James", suffix="III") == (
            "W,J II", (GIVEN_INITIAL, SURNAME_CUT))
        # A one-letter surname with no room at all: kept whole, nothing read past it.
        assert _name(6, "W", "James", suffix="III") == ("W,J II", (GIVEN_INITIAL, SURNAME_CUT))


class TestCompoundSurnameParts:
    """NCIC Personal Descriptors 2.2: each part of a compound surname is also entered, so
    a search on either finds the person."""

    def test_a_simple_surname_has_no_parts(self):
        assert compound_surname_parts(PersonName(surname="Garcia", given="Jose")) == []

    def test_each_part_of_a_three_part_surname(self):
        parts = compound_surname_parts(PersonName(surname="García-López-Ruiz", given="José"))
        assert [(p.surname, p.given) for p in parts] == [
            ("García", "José"), ("López", "José"), ("Ruiz", "José")]

    def test_the_spanish_y_joins_two_surnames(self):
        parts = compound_surname_parts(PersonName(surname="Ortega y Gasset", given="José"))
        assert [p.surname for p in parts] == ["Ortega", "Gasset"]

    def test_a_part_that_is_not_a_name_is_left_out_and_the_rest_kept(self):
        """"'Olo" starts with an apostrophe: not a valid name part on its own."""
        parts = compound_surname_parts(PersonName(surname="Smith-'Olo-Jones", given="Ana"))
        assert [p.surname for p in parts] == ["Smith", "Jones"]
