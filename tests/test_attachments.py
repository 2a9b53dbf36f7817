"""The order-image link (issue 21, found 9): https only, no credentials, no internal
addresses, the configured hosts only; fetched bytes checked against the court's hash."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from engine.attachments import uri_problem, verify_image
from engine.canonical import decode_order
from engine.errors import OrderInvalid
from engine.model import OrderImage

FIXTURE = Path(__file__).parent / "fixtures" / "orders" / "dv_tro_issue.json"


def _with_uri(uri: str) -> str:
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    data["image"]["uri"] = uri
    return json.dumps(data)


@pytest.mark.parametrize("uri", [
    "javascript:alert(document.cookie)",
    "file:///etc/passwd",
    "smb://fileserver/orders/x.pdf",
    "data:application/pdf;base64,JVBERi0=",
    "http://cms.court.example/orders/x.pdf",
    "https://10.0.0.5/orders/x.pdf",
    "https://[::1]/orders/x.pdf",
    "https://localhost/orders/x.pdf",
    "https://clerk:hunter22@cms.court.example/orders/x.pdf",
])
def test_unsafe_links_are_refused_at_intake(uri: str) -> None:
    with pytest.raises(OrderInvalid) as info:
        decode_order(_with_uri(uri))
    assert "image.uri" in str(info.value)
    assert "hunter22" not in str(info.value) and "passwd" not in str(info.value)


def test_an_https_link_to_a_court_host_is_kept() -> None:
    uri = "https://cms.court.example/orders/x.pdf"
    order = decode_order(_with_uri(uri))
    assert order.image is not None and order.image.uri == uri


def test_the_configured_hosts_are_the_only_ones_allowed() -> None:
    hosts = ("cms.court.example", ".courts.ca.example")
    assert uri_problem("https://cms.court.example/x.pdf", hosts) is None
    assert uri_problem("https://docs.la.courts.ca.example/x.pdf", hosts) is None
    assert "image_hosts" in str(uri_problem("https://evil.example/x.pdf", hosts))
    assert "image_hosts" in str(uri_problem("https://courts.ca.example.evil.example/x",
                                            hosts))


def test_the_pipeline_refuses_a_host_outside_image_hosts(tmp_path: Path) -> None:
    """With ``image_hosts`` configured, an order linking elsewhere is INVALID naming
    image.uri."""
    from engine.config import parse_config
    from engine.intake.pipeline import IntakeMessage, Pipeline
    from engine.ledger import Ledger, State, open_database
    from engine.receiver.stand_ins import stand_in_render

    config = parse_config({
        "image_hosts": [".courts.ca.example"],
        "courts": {"*": {"destination": "doj"}},
        "destinations": {"doj": {"transport": "https", "format": "niem"}},
    }, env={})
    ledger = Ledger(open_database(f"sqlite:///{tmp_path / 'l.db'}"))
    pipeline = Pipeline.build(config, ledger, renderers={"niem": stand_in_render})
    [result] = pipeline.run([IntakeMessage(_with_uri("https://cms.lacourt.example/x.pdf")
                                           .encode())])
    assert result.state is State.INVALID and "image.uri" in (result.reason or "")


def test_fetched_bytes_are_checked_against_the_hash() -> None:
    pdf = b"%PDF-1.7 order"
    image = OrderImage(uri="https://cms.court.example/x.pdf",
                       sha256=hashlib.sha256(pdf).hexdigest())
    assert verify_image(image, pdf)
    assert not verify_image(image, pdf + b" tampered")
