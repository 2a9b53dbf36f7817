"""The NIEM reader keeps every fact a message carries, or refuses the message saying where.

One test per way the audit of issue 19 found the reader losing a fact without a word:
repeated condition words, an unknown sex text, a declared encoding that is not the bytes',
a wrapper that contradicts its body, and `engine convert` reading a huge file whole.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from engine.cli import main
from engine.errors import DecodeError, OrderInvalid
from engine.niem import read_niem
from engine.niem.namespaces import NS, q

GOLDEN = Path(__file__).parents[1] / "fixtures" / "niem"
ORDERS = Path(__file__).parents[1] / "fixtures" / "orders"
ISSUE = (GOLDEN / "dv_tro_issue.xml").read_bytes()
MODIFY = (GOLDEN / "ch_oah_modify.xml").read_bytes()  # lists condition 08 with its words
ROOT = "/pox:ProtectionOrderMessage"


def changed(source: bytes, change) -> bytes:
    root = etree.fromstring(source)
    change(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def one(root: etree._Element, path: str) -> etree._Element:
    (element,) = root.xpath(path, namespaces=NS)
    return element


def refusal_paths(data: bytes) -> dict[str, str]:
    with pytest.raises(OrderInvalid) as exc:
        read_niem(data)
    return {e.path: e.reason for e in exc.value.errors}


# -- repeated elements -----------------------------------------------------------------------
def _second_other_text(root: etree._Element) -> None:
    """A second pox-ext:ProtectionOrderCondition for the one code 08 the order lists."""
    detail = one(root, "//pox-ext:ProtectionOrderCondition")
    assert detail.findtext(q("ncic", "ProtectionOrderConditionCode")) == "08"
    second = copy.deepcopy(detail)
    second.find(q("j", "ProtectionOrderConditionText")).text = "No contact at the workplace."
    detail.addnext(second)


def test_two_other_condition_texts_are_refused_not_overwritten() -> None:
    """Two sets of words for condition 08: refused at the second, not 'last one wins'."""
    problems = refusal_paths(changed(MODIFY, _second_other_text))
    assert list(problems) == [f"{ROOT}/j:ProtectionOrder/pox-ext:ProtectionOrderAugmentation/"
                              f"pox-ext:ProtectionOrderCondition[2]"]
    assert "second" in next(iter(problems.values()))


def test_one_other_condition_text_is_kept() -> None:
    """The golden modify's single set of words for 08 reads back on condition 08."""
    order = read_niem(MODIFY)
    assert [c.text for c in order.conditions if c.code.value == "08"] == [
        "Stay at least 100 yards away."]


def test_a_second_order_augmentation_is_refused_not_ignored() -> None:
    """NIEM lets augmentation points repeat; a second pox-ext augmentation is refused."""
    def change(root: etree._Element) -> None:
        augmentation = one(root, "j:ProtectionOrder/pox-ext:ProtectionOrderAugmentation")
        augmentation.addnext(copy.deepcopy(augmentation))

    problems = refusal_paths(changed(MODIFY, change))
    assert f"{ROOT}/j:ProtectionOrder/pox-ext:ProtectionOrderAugmentation[2]" in problems


def test_a_second_court_organization_augmentation_is_refused() -> None:
    """A repeated j:OrganizationAugmentation (a second ORI) is refused, not ignored."""
    def change(root: etree._Element) -> None:
        augmentation = one(root, "j:ProtectionOrder/j:CourtOrderIssuingCourt/"
                                 "j:OrganizationAugmentation")
        augmentation.addnext(copy.deepcopy(augmentation))

    problems = refusal_paths(changed(ISSUE, change))
    assert any(p.endswith("j:OrganizationAugmentation[2]") for p in problems)


def test_a_second_sex_code_is_refused() -> None:
    """NIEM admits two nc:PersonSexAbstract elements; a second ncic:PersonSexCode is refused."""
    def change(root: etree._Element) -> None:
        code = one(root, "j:ProtectionOrder/j:ProtectionOrderRestrictedPerson/ncic:PersonSexCode")
        second = copy.deepcopy(code)
        second.text = "F"
        code.addnext(second)

    problems = refusal_paths(changed(ISSUE, change))
    assert f"{ROOT}/j:ProtectionOrder/j:ProtectionOrderRestrictedPerson/ncic:PersonSexCode[2]" \
        in problems


# -- unknown code values -------------------------------------------------------------------
def test_an_unknown_sex_text_is_refused_with_its_path() -> None:
    """nc:PersonSexText other than 'nonbinary' is refused where it sits, not dropped."""
    def change(root: etree._Element) -> None:
        code = one(root, "j:ProtectionOrder/j:ProtectionOrderRestrictedPerson/ncic:PersonSexCode")
        text = etree.Element(q("nc", "PersonSexText"))
        text.text = "intersex"
        code.addnext(text)

    problems = refusal_paths(changed(ISSUE, change))
    assert list(problems) == [f"{ROOT}/j:ProtectionOrder/j:ProtectionOrderRestrictedPerson/"
                              f"nc:PersonSexText"]
    assert "intersex" not in next(iter(problems.values()))  # a value is never echoed


def test_nonbinary_text_beside_a_definite_sex_code_is_refused() -> None:
    """'nonbinary' says code U; beside M it contradicts the code and is refused."""
    def change(root: etree._Element) -> None:
        code = one(root, "j:ProtectionOrder/j:ProtectionOrderRestrictedPerson/ncic:PersonSexCode")
        assert code.text == "M"
        text = etree.Element(q("nc", "PersonSexText"))
        text.text = "nonbinary"
        code.addnext(text)

    assert any(p.endswith("nc:PersonSexText") for p in refusal_paths(changed(ISSUE, change)))


# -- declared encoding ---------------------------------------------------------------------
def test_latin1_bytes_in_a_utf8_document_are_refused_as_not_utf8() -> None:
    """'Nguyễn' written as Latin-1 bytes under a UTF-8 declaration is refused, naming why."""
    surname = "Nguyễn".encode()
    assert surname in ISSUE
    latin1 = ISSUE.replace(surname, "Nguyén".encode("latin-1"))
    with pytest.raises(DecodeError, match="not UTF-8 at byte offset"):
        read_niem(latin1)


@pytest.mark.parametrize("encoding", ["UTF-16", "ISO-8859-1", "windows-1252"])
def test_a_document_declared_in_another_encoding_is_refused(encoding: str) -> None:
    """The contract is UTF-8: a UTF-16 or Latin-1 document (exactly encoded) is refused."""
    text = ISSUE.decode("utf-8").replace("encoding='UTF-8'", f"encoding='{encoding}'", 1)
    assert f"encoding='{encoding}'" in text
    data = text.encode(encoding, errors="xmlcharrefreplace")  # exact: &#7877; for ễ
    etree.fromstring(data)  # well-formed as declared: only the contract refuses it
    with pytest.raises(DecodeError, match="must be encoded as UTF-8"):
        read_niem(data)


# -- wrapper against body ------------------------------------------------------------------
def test_a_sender_ori_that_is_not_the_issuing_court_is_refused() -> None:
    """pox:MessageSenderORI must be the ORI of j:CourtOrderIssuingCourt."""
    data = changed(ISSUE, lambda r: setattr(one(r, "pox:MessageSenderORI"), "text",
                                             "CA0190000"))
    assert f"{ROOT}/pox:MessageSenderORI" in refusal_paths(data)


def test_a_modify_without_a_doj_record_id_is_refused() -> None:
    """A modify acts on an existing DOJ record, so it must name it (pox:DOJRecordID)."""
    def change(root: etree._Element) -> None:
        record = one(root, "pox:DOJRecordID")
        root.remove(record)

    assert f"{ROOT}/pox:MessageActionCode" in refusal_paths(changed(MODIFY, change))


def test_an_issue_with_a_doj_record_id_is_refused() -> None:
    """An issue creates the record: a record id on it contradicts the action."""
    def change(root: etree._Element) -> None:
        record = etree.Element(q("pox", "DOJRecordID"))
        record.text = "CA-DOJ-PO-000042"
        one(root, "pox:OrderVersionNumber").addnext(record)

    assert f"{ROOT}/pox:DOJRecordID" in refusal_paths(changed(ISSUE, change))


def test_convert_refuses_a_doj_record_id_on_an_issue(
        capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """`engine convert --doj-record-id` on an issue exits 1 and names the option."""
    argv = ["convert", "--to", "niem", "--mcn", "M-1", "--doj-record-id", "R-1",
            str(ORDERS / "dv_tro_issue.json")]
    assert main(argv) == 1
    captured = capsysbinary.readouterr()
    assert captured.out == b""
    assert b"doj_record_id" in captured.err


# -- the size cap while streaming ------------------------------------------------------------
def test_convert_refuses_a_200_mb_file_without_reading_it_whole(tmp_path: Path) -> None:
    """A 200 MB file is refused with a clear error while the process stays under 50 MB."""
    big = tmp_path / "big.xml"
    with big.open("wb") as out:
        out.write(ISSUE[:200])
        out.truncate(200 * 1024 * 1024)  # sparse: 200 MB to read, none on disk
    result = subprocess.run([sys.executable, "-c", _PEAK_OF_CONVERT, str(big)],
                            capture_output=True, check=False)
    assert result.returncode == 1, result.stderr
    assert result.stdout == b""
    message, _, peak = result.stderr.decode().rpartition("VmHWM:")
    assert "DecodeError: file is larger than 2000000 bytes" in message
    peak_kb = int(peak.split()[0])
    assert peak_kb < 50 * 1024, f"peak resident {peak_kb} kB"


# Runs `engine convert` in a fresh interpreter, then prints that process's own peak resident
# set (/proc/self/status VmHWM, which a fork's shared pages do not inflate).
_PEAK_OF_CONVERT = """
import sys
from engine.cli import main
try:
    code = main(["convert", "--to", "canonical", sys.argv[1]])
finally:
    with open("/proc/self/status") as status:
        sys.stderr.write(next(line for line in status if line.startswith("VmHWM:")))
sys.exit(code)
"""


# -- header ----------------------------------------------------------------------------------
def test_a_message_of_another_iepd_version_is_refused() -> None:
    """pox:IEPDVersionID other than the one this reader implements is refused, not guessed."""
    data = changed(ISSUE, lambda r: setattr(one(r, "pox:IEPDVersionID"), "text", "9.0.0"))
    assert f"{ROOT}/pox:IEPDVersionID" in refusal_paths(data)


def test_an_issue_naming_a_previous_message_is_refused() -> None:
    """An issue is the first message of an order: a previous MCN contradicts it."""
    def change(root: etree._Element) -> None:
        previous = etree.Element(q("pox", "PreviousMessageControlNumber"))
        previous.text = "MCN-0"
        one(root, "pox:MessageControlNumber").addnext(previous)

    assert f"{ROOT}/pox:PreviousMessageControlNumber" in refusal_paths(changed(ISSUE, change))
