"""The canonical protective order: the one shape every court format maps into and every
DOJ format renders from.

Immutable (frozen pydantic models), so a step in the pipeline can never change an order
another step has already seen. Shape and code checks live here (pydantic reports them with
a field path); rules that span fields (an expiration before issuance, an action that needs
a field) live in `engine.law.checks`.

Codes are the engine's own readable words (``"brown"``, ``"white"``), not NCIC letters:
each output format maps them through its own code table (see `schemas/clets-layout.yaml`),
so a state's code changes never reach the model.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
)

from engine.text_safety import clean_name, clean_text

__all__ = [
    "DEPRECATED_RACES",
    "SCHEMA_VERSION",
    "SMT_CODE_PATTERN",
    "Action",
    "Condition",
    "ConditionCode",
    "Court",
    "Ethnicity",
    "EyeColor",
    "Firearms",
    "HairColor",
    "IdentifierKind",
    "Order",
    "OrderImage",
    "OrderType",
    "PersonIdentifier",
    "PersonName",
    "ProtectedPerson",
    "Race",
    "Relationship",
    "RestrainedPerson",
    "ScarMarkTattoo",
    "Service",
    "ServiceStatus",
    "Sex",
    "SkinTone",
]

#: Version of the intake JSON format; bumped on any incompatible change.
SCHEMA_VERSION = "1.0"

#: A non-empty line of text: no leading/trailing blanks, no control characters.
Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2000,
                      pattern=r"^[^\x00-\x1f\x7f]*$"),
    BeforeValidator(clean_text),  # runs first: NFC; no bidi, C1, separators, noncharacters
]
#: A short identifier-like token (case numbers, order ids, ORIs).
Token = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64,
                      pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$"),
]
#: A name part: letters of any script, spaces, apostrophes, hyphens and periods.
NamePart = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100,
                      pattern=r"^[^\W\d_](?:[^\W\d_]|[ '\u2019.-])*$"),
    BeforeValidator(clean_name),  # runs first: NFC, width folded; no invisible characters
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False,
                              str_strip_whitespace=True)


class Action(enum.StrEnum):
    """What this version of the order does to the registry record."""

    ISSUE = "issue"          #: a new order: NCIC entry
    MODIFY = "modify"        #: terms changed: NCIC modify
    EXTEND = "extend"        #: expiration moved later: NCIC modify of EXP
    TERMINATE = "terminate"  #: dissolved or expired early by the court: NCIC clear
    CANCEL = "cancel"        #: vacated or entered in error: NCIC cancel
    SERVE = "serve"          #: proof of service filed: NCIC supplemental / modify of service


class OrderType(enum.StrEnum):
    """California protective and restraining order types (Judicial Council form families)."""

    DV_TRO = "dv_tro"                #: DV-110 domestic violence temporary restraining order
    DV_AFTER_HEARING = "dv_oah"      #: DV-130 domestic violence order after hearing
    CH_TRO = "ch_tro"                #: CH-110 civil harassment temporary order
    CH_AFTER_HEARING = "ch_oah"      #: CH-130 civil harassment order after hearing
    EA_TRO = "ea_tro"                #: EA-110 elder/dependent adult abuse temporary order
    EA_AFTER_HEARING = "ea_oah"      #: EA-130 elder/dependent adult abuse order after hearing
    WV_TRO = "wv_tro"                #: WV-110 workplace violence temporary order
    WV_AFTER_HEARING = "wv_oah"      #: WV-130 workplace violence order after hearing
    SV_TRO = "sv_tro"                #: SV-110 school violence temporary order
    SV_AFTER_HEARING = "sv_oah"      #: SV-130 school violence order after hearing
    GV_EMERGENCY = "gv_epo"          #: EPO-002 emergency gun violence restraining order
    GV_TRO = "gv_tro"                #: GV-110 gun violence temporary order
    GV_AFTER_HEARING = "gv_oah"      #: GV-030 gun violence order after hearing
    CRIMINAL = "cr_cpo"              #: CR-160 criminal protective order
    JUVENILE_TRO = "jv_tro"          #: JV-250 juvenile temporary restraining order
    JUVENILE_AFTER_HEARING = "jv_oah"  #: JV-255 juvenile restraining order after hearing
    EMERGENCY = "epo"                #: EPO-001 emergency protective order (law enforcement)
    OUT_OF_STATE = "out_of_state"    #: DV-600 registration of an out-of-state order
    TRIBAL = "tribal"                #: registration of a tribal court order

    @property
    def is_emergency(self) -> bool:
        """Emergency orders are due at once, not within a business day."""
        return self in (OrderType.EMERGENCY, OrderType.GV_EMERGENCY)


class Sex(enum.StrEnum):
    MALE = "male"
    FEMALE = "female"
    NONBINARY = "nonbinary"
    UNKNOWN = "unknown"


class Race(enum.StrEnum):
    """Race as NCIC records it (RAC; NCIC Personal Descriptors 4, ncic-codes-5.0.1 RACE).

    Each word but the deprecated one maps 1:1 to an NCIC code. Hispanic origin is not a
    race in NCIC: it is `Ethnicity` (ETN).
    """

    ASIAN = "asian"  #: NCIC A
    NATIVE_HAWAIIAN_PACIFIC_ISLANDER = "native_hawaiian_pacific_islander"  #: NCIC P
    #: Deprecated (intake format 1.0): joins NCIC A and P, so no code can be chosen for it
    #: without guessing. Still read; sent as U (unknown) with a warning. See DEPRECATED_RACES.
    ASIAN_PACIFIC_ISLANDER = "asian_pacific_islander"
    BLACK = "black"
    AMERICAN_INDIAN_ALASKA_NATIVE = "american_indian_alaska_native"
    WHITE = "white"
    UNKNOWN = "unknown"


#: Race words still read but never sent as a code of their own, with what to send instead.
DEPRECATED_RACES: dict[Race, str] = {
    Race.ASIAN_PACIFIC_ISLANDER: "NCIC distinguishes A (asian) and P "
                                 "(native_hawaiian_pacific_islander); send one of those",
}


class Ethnicity(enum.StrEnum):
    """Ethnicity as NCIC records it (ETN; ncic-codes-5.0.1 ETNCodeSimpleType)."""

    HISPANIC = "hispanic"          #: NCIC H, Hispanic or Latino
    NOT_HISPANIC = "not_hispanic"  #: NCIC N, not Hispanic or Latino


class EyeColor(enum.StrEnum):
    BLACK = "black"
    BLUE = "blue"
    BROWN = "brown"
    GRAY = "gray"
    GREEN = "green"
    HAZEL = "hazel"
    MAROON = "maroon"
    MULTICOLORED = "multicolored"
    PINK = "pink"
    UNKNOWN = "unknown"


class HairColor(enum.StrEnum):
    BALD = "bald"
    BLACK = "black"
    BLOND = "blond"
    BLUE = "blue"
    BROWN = "brown"
    GRAY = "gray"
    GREEN = "green"
    ORANGE = "orange"
    PINK = "pink"
    PURPLE = "purple"
    RED = "red"
    SANDY = "sandy"
    WHITE = "white"
    UNKNOWN = "unknown"


class SkinTone(enum.StrEnum):
    ALBINO = "albino"
    BLACK = "black"
    DARK = "dark"
    DARK_BROWN = "dark_brown"
    FAIR = "fair"
    LIGHT = "light"
    LIGHT_BROWN = "light_brown"
    MEDIUM = "medium"
    MEDIUM_BROWN = "medium_brown"
    OLIVE = "olive"
    RUDDY = "ruddy"
    SALLOW = "sallow"
    YELLOW = "yellow"


class IdentifierKind(enum.StrEnum):
    DRIVERS_LICENSE = "drivers_license"
    STATE_ID = "state_id"
    SSN = "ssn"
    FBI_NUMBER = "fbi_number"
    STATE_ID_NUMBER = "cii"  #: California Identification and Index number (SID)
    PASSPORT = "passport"


class Relationship(enum.StrEnum):
    """The protected person's relationship to the restrained person."""

    SPOUSE = "spouse"
    FORMER_SPOUSE = "former_spouse"
    COHABITANT = "cohabitant"
    DATING = "dating"
    PARENT_OF_CHILD = "parent_of_child"
    CHILD = "child"
    PARENT = "parent"
    SIBLING = "sibling"
    OTHER_RELATIVE = "other_relative"
    HOUSEHOLD_MEMBER = "household_member"
    COWORKER = "coworker"
    STUDENT = "student"
    OTHER = "other"
    UNKNOWN = "unknown"


class ConditionCode(enum.StrEnum):
    """NCIC protection order condition codes (PCO 01-09), meanings as NCIC publishes them."""

    NO_ABUSE = "01"              #: restrained from assaulting, threatening, harassing, stalking
    NO_THREAT_TO_FAMILY = "02"   #: may not threaten a member of the family or household
    EXCLUSIVE_RESIDENCE = "03"   #: protected person has exclusive possession of the residence
    STAY_AWAY = "04"             #: stay away from residence, school, work of protected person
    NO_CONTACT = "05"            #: no communication of any kind with the protected person
    VISITATION_ALLOWED = "06"    #: subject has visitation or custody rights of named children
    NO_FIREARMS = "07"           #: prohibited from possessing or purchasing a firearm
    SEE_MISCELLANEOUS = "08"     #: see the miscellaneous field for other terms
    TEMPORARY_CUSTODY = "09"     #: protected person has temporary exclusive custody of children


class ServiceStatus(enum.StrEnum):
    SERVED = "served"
    NOT_SERVED = "not_served"


class PersonName(_Frozen):
    """A legal name in parts. A person with a single legal name has only ``surname``."""

    surname: NamePart
    given: NamePart | None = None
    middle: NamePart | None = None
    suffix: Annotated[str, StringConstraints(pattern=r"^(JR|SR|I|II|III|IV|V|VI)$")] | None = None


#: The form of an NCIC SMT code (Personal Descriptors 13, ncic-codes-niem2.1-fbi
#: SMTCodeSimpleType): upper-case letters and digits in up to three words, 10 characters
#: at most ("TAT R HND", "SC L CHK", "RTAT LCALF"). The table itself is the NCIC's; tests
#: check fixtures against it (the engine does not ship a copy).
SMT_CODE_PATTERN = r"^[A-Z0-9]+( [A-Z0-9]+){0,2}$"


class ScarMarkTattoo(_Frozen):
    """A scar, mark or tattoo by its NCIC SMT code, with the court's words beside it."""

    code: Annotated[str, StringConstraints(min_length=2, max_length=10,
                                           pattern=SMT_CODE_PATTERN)]
    description: Text | None = None


#: Union tags of a scar/mark/tattoo entry; intake leaves them out of error paths.
SMT_TAGS = ("smt_code", "smt_text")
#: One scars/marks/tattoos entry: an object is a coded mark, a string a described one (the
#: discriminator picks the branch, so an error speaks of that branch only).
MarkEntry = Annotated[
    Annotated[ScarMarkTattoo, Tag(SMT_TAGS[0])] | Annotated[Text, Tag(SMT_TAGS[1])],
    Discriminator(lambda v: SMT_TAGS[1] if isinstance(v, str) else SMT_TAGS[0]),
]


class PersonIdentifier(_Frozen):
    kind: IdentifierKind
    value: Token
    #: Issuing state or country (two-letter USPS / ISO code) where it has one.
    issuer: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None
    #: Year the document expires (NCIC OLY), where known.
    expires_year: Annotated[int, Field(ge=1900, le=2200)] | None = None


class RestrainedPerson(_Frozen):
    """The person the order restrains, with the descriptors NCIC needs to identify them."""

    name: PersonName
    aliases: tuple[PersonName, ...] = ()
    sex: Sex
    race: Race
    #: NCIC ETN; None when the court does not record it.
    ethnicity: Ethnicity | None = None
    birth_date: dt.date | None = None
    height_inches: Annotated[int, Field(ge=12, le=107)] | None = None
    weight_pounds: Annotated[int, Field(ge=1, le=999)] | None = None
    eye_color: EyeColor | None = None
    hair_color: HairColor | None = None
    skin_tone: SkinTone | None = None
    #: NCIC SMT codes where the court has them; plain text is a description with no code
    #: (sent in MIS, never as a code).
    scars_marks_tattoos: tuple[MarkEntry, ...] = ()
    identifiers: tuple[PersonIdentifier, ...] = ()


class ProtectedPerson(_Frozen):
    """A person the order protects. Their name and birth date are never logged."""

    name: PersonName
    sex: Sex = Sex.UNKNOWN
    race: Race = Race.UNKNOWN
    birth_date: dt.date | None = None
    relationship: Relationship = Relationship.UNKNOWN
    is_minor: bool = False


class Court(_Frozen):
    #: NCIC originating agency identifier of the court (9 characters, e.g. CA019015J).
    ori: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}[A-Z0-9]{7}$")]
    name: Text
    county: Text | None = None


class Condition(_Frozen):
    code: ConditionCode
    #: Words of the order for this condition; required for code 08 (see miscellaneous).
    text: Text | None = None


class Firearms(_Frozen):
    relinquishment_ordered: bool = False
    #: Federal firearms prohibition applies (NCIC BRD = Y): 18 U.S.C. 922(g)(8).
    brady_indicator: bool = False


class Service(_Frozen):
    status: ServiceStatus = ServiceStatus.NOT_SERVED
    served_at: AwareDatetime | None = None
    served_by: Text | None = None


class OrderImage(_Frozen):
    """A reference to the signed order's image (PDF), never the image itself."""

    uri: Annotated[str, StringConstraints(min_length=1, max_length=2000,
                                          pattern=r"^[a-z][a-z0-9+.-]*:[^\s]+$")]
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    media_type: Annotated[str, StringConstraints(pattern=r"^application/pdf$")] = "application/pdf"


class Order(_Frozen):
    """One version of one protective order, as the court issued it."""

    schema_version: Annotated[str, StringConstraints(pattern=r"^1\.\d+$")] = SCHEMA_VERSION
    court: Court
    case_number: Token
    #: The court's identifier for the order; stable across versions.
    order_id: Token
    #: 1 for the order as issued, +1 for each later action on it.
    version: Annotated[int, Field(ge=1, le=100_000)]
    action: Action
    order_type: OrderType
    judicial_officer: Text | None = None
    issued_at: AwareDatetime
    effective_date: dt.date
    #: None means the order does not expire (NCIC NONEXP).
    expiration_date: dt.date | None = None
    restrained_persons: Annotated[tuple[RestrainedPerson, ...], Field(min_length=1, max_length=5)]
    protected_persons: Annotated[tuple[ProtectedPerson, ...], Field(min_length=1, max_length=20)]
    conditions: tuple[Condition, ...] = ()
    #: Terms in the order's own words that no condition code carries.
    miscellaneous: Text | None = None
    firearms: Firearms = Firearms()
    service: Service = Service()
    image: OrderImage | None = None

    @property
    def key(self) -> str:
        """The order's identity across versions: court ORI and the court's order id."""
        return f"{self.court.ori}/{self.order_id}"

    @property
    def version_key(self) -> str:
        """Identity of this version: what makes a duplicate intake message a duplicate."""
        return f"{self.key}#{self.version}"
