"""Text rules: transliteration to upper-case ASCII, character sets, NCIC name form."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.clets.text import fit_to_charset, format_ncic_name, transliterate
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
