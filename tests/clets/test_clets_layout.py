"""The layout file loads once, covers the model, and a bad layout names the key at fault."""

from __future__ import annotations

import copy
import re

import pytest
import yaml

from engine.clets.layout import DEFAULT_LAYOUT_PATH, LayoutError, load_layout, parse_layout
from engine.model import Action, OrderType


@pytest.fixture(scope="module")
def raw_layout() -> dict:
    return yaml.safe_load(DEFAULT_LAYOUT_PATH.read_text(encoding="utf-8"))


def _broken(raw: dict, change) -> dict:
    doc = copy.deepcopy(raw)
    change(doc)
    return doc


class TestShippedLayout:
    def test_loads(self):
        """The shipped layout loads and has a message for every action."""
        layout = load_layout()
        assert set(layout.messages) == set(Action)

    def test_every_order_type_has_a_code(self):
        """Every OrderType of the model has a California order-type code."""
        codes = load_layout().tables["order_type"].codes
        assert set(codes) == {t.value for t in OrderType}

    def test_named_california_codes(self):
        """The order types the issue names carry the California codes it names."""
        codes = load_layout().tables["order_type"].codes
        assert {codes[k] for k in ("dv_tro", "dv_oah", "ch_tro", "ch_oah", "wv_tro", "cr_cpo",
                                   "jv_oah", "epo")} == {"TRO", "OAH", "TCH", "CHO", "TWH",
                                                         "CPO", "JUV", "EPO"}
        assert codes["ea_oah"] in ("EAR", "EAF")

    def test_message_keys_follow_ncic(self):
        """Entry, modify, clear and cancel use the NCIC keys EPO, MPO, CPO, XPO."""
        messages = load_layout().messages
        assert [messages[a].key for a in (Action.ISSUE, Action.MODIFY, Action.TERMINATE,
                                          Action.CANCEL)] == ["EPO", "MPO", "CPO", "XPO"]

    def test_assumptions_are_listed(self):
        """Facts to confirm are listed with where they live, including per-code notes."""
        notes = dict(load_layout().assumptions())
        assert "fields.POT" in notes
        assert "tables.sex.nonbinary" in notes
        assert all(note.strip() for note in notes.values())


class TestBadLayout:
    @pytest.mark.parametrize(("change", "where"), [
        (lambda d: d["messages"]["issue"]["fields"].append("XYZ"), "messages.issue.fields[32]"),
        (lambda d: d["messages"].pop("cancel"), "messages"),
        (lambda d: d["messages"]["modify"]["required"].remove("NIC"),
         "messages.modify.required"),
        (lambda d: d["messages"]["extend"]["required"].append("PCO"),
         "messages.extend.required[7]"),
        (lambda d: d["tables"]["eye"]["codes"].pop("hazel"), "tables.eye.codes"),
        (lambda d: d["tables"]["order_type"]["codes"].pop("tribal"), "tables.order_type.codes"),
        (lambda d: d["fields"]["NAM"].update(max_length=0), "fields.NAM.max_length"),
        (lambda d: d["fields"]["NAM"].update(charset="klingon"), "fields.NAM.charset"),
        (lambda d: d["fields"]["SEX"].update(table="nope"), "fields.SEX.table"),
        (lambda d: d["fields"]["SEX"].update(source="order.nothing"), "fields.SEX.source"),
        (lambda d: d["fields"]["HGT"].update(pattern="[0-9"), "fields.HGT.pattern"),
        (lambda d: d["fields"]["EYE"].update(max_lenght=3), "fields.EYE"),
        (lambda d: d["tables"]["sex"]["codes"].update(male="MALE"), "fields.SEX.table"),
    ])
    def test_error_names_the_key(self, raw_layout, change, where):
        """A broken layout raises LayoutError naming the key path that is wrong."""
        with pytest.raises(LayoutError, match=re.escape(f"test.yaml: {where}:")):
            parse_layout(_broken(raw_layout, change), "test.yaml")

    def test_unreadable_file(self, tmp_path):
        """A missing layout file is a LayoutError naming the file."""
        with pytest.raises(LayoutError, match=r"nothere\.yaml"):
            load_layout(tmp_path / "nothere.yaml")

    def test_bad_yaml(self, tmp_path):
        """A layout that is not YAML is a LayoutError naming the file."""
        path = tmp_path / "bad.yaml"
        path.write_text("fields: [unclosed\n", encoding="utf-8")
        with pytest.raises(LayoutError, match=r"bad\.yaml: not valid YAML"):
            load_layout(path)
