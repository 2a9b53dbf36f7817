"""Canonical code words <-> the NCIC codes NIEM carries (SEX, RACE, ETN, EYE, HAIR, SKIN).

The canonical order keeps readable words (`engine.model`); the NIEM document carries NCIC
codes in the ncic: namespace. Each table is one-to-one, so a document we render reads back
to the same words. Two canonical words have no NCIC code of their own and are documented in
docs/niem-contract.md: ``nonbinary`` (NCIC SEX has M, F, U: sent as U plus nc:PersonSexText)
and the deprecated ``asian_pacific_islander`` (NCIC RACE has A and P: sent as U, unknown,
never guessed; it reads back as ``unknown``). Ethnicity is NCIC ETN (H, N).
"""

from __future__ import annotations

from typing import TypeVar

from engine.model import Ethnicity, EyeColor, HairColor, Race, Sex, SkinTone

__all__ = [
    "ETHNICITY_CODES",
    "EYE_CODES",
    "HAIR_CODES",
    "NONBINARY_SEX_TEXT",
    "RACE_CODES",
    "SEX_CODES",
    "SKIN_CODES",
    "reverse",
]

SEX_CODES: dict[Sex, str] = {
    Sex.MALE: "M",
    Sex.FEMALE: "F",
    Sex.UNKNOWN: "U",
    Sex.NONBINARY: "U",  # listed after UNKNOWN: code U alone reads back as unknown
}
#: nc:PersonSexText beside ncic:PersonSexCode U says the person is nonbinary.
NONBINARY_SEX_TEXT = "nonbinary"

RACE_CODES: dict[Race, str] = {
    Race.ASIAN: "A",
    Race.NATIVE_HAWAIIAN_PACIFIC_ISLANDER: "P",
    Race.BLACK: "B",
    Race.AMERICAN_INDIAN_ALASKA_NATIVE: "I",
    Race.WHITE: "W",
    Race.UNKNOWN: "U",
    Race.ASIAN_PACIFIC_ISLANDER: "U",  # deprecated, after UNKNOWN: U reads back as unknown
}

ETHNICITY_CODES: dict[Ethnicity, str] = {
    Ethnicity.HISPANIC: "H",
    Ethnicity.NOT_HISPANIC: "N",
}

EYE_CODES: dict[EyeColor, str] = {
    EyeColor.BLACK: "BLK",
    EyeColor.BLUE: "BLU",
    EyeColor.BROWN: "BRO",
    EyeColor.GRAY: "GRY",
    EyeColor.GREEN: "GRN",
    EyeColor.HAZEL: "HAZ",
    EyeColor.MAROON: "MAR",
    EyeColor.MULTICOLORED: "MUL",
    EyeColor.PINK: "PNK",
    EyeColor.UNKNOWN: "XXX",
}

HAIR_CODES: dict[HairColor, str] = {
    HairColor.BALD: "BLD",
    HairColor.BLACK: "BLK",
    HairColor.BLOND: "BLN",
    HairColor.BLUE: "BLU",
    HairColor.BROWN: "BRO",
    HairColor.GRAY: "GRY",
    HairColor.GREEN: "GRN",
    HairColor.ORANGE: "ONG",
    HairColor.PINK: "PNK",
    HairColor.PURPLE: "PLE",
    HairColor.RED: "RED",
    HairColor.SANDY: "SDY",
    HairColor.WHITE: "WHI",
    HairColor.UNKNOWN: "XXX",
}

SKIN_CODES: dict[SkinTone, str] = {
    SkinTone.ALBINO: "ALB",
    SkinTone.BLACK: "BLK",
    SkinTone.DARK: "DRK",
    SkinTone.DARK_BROWN: "DBR",
    SkinTone.FAIR: "FAR",
    SkinTone.LIGHT: "LGT",
    SkinTone.LIGHT_BROWN: "LBR",
    SkinTone.MEDIUM: "MED",
    SkinTone.MEDIUM_BROWN: "MBR",
    SkinTone.OLIVE: "OLV",
    SkinTone.RUDDY: "RUD",
    SkinTone.SALLOW: "SAL",
    SkinTone.YELLOW: "YEL",
}


K = TypeVar("K")


def reverse(table: dict[K, str]) -> dict[str, K]:
    """NCIC code -> canonical word; where two words share a code, the first listed wins."""
    out: dict[str, K] = {}
    for word, code in table.items():
        out.setdefault(code, word)
    return out
