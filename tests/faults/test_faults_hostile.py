"""Invariant 8 through the running engine: every file of the hostile corpus, and a 50 MB
message, is published to the intake queue, each followed by a normal order. Each hostile
message ends recorded with an error naming its problem (INVALID in the ledger, or
dead-lettered with the reason in ``x-engine-error``); every normal order is delivered.

JSON files go the canonical way; XML files go through a court whose mapping reads XML
(``orange-ecf5-xml``), so the XML defences are what refuses them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pika
import pytest

from engine.intake.amqp import ERROR_HEADER
from tests.faults.harness import REPO, FaultRun, order_stream
from tests.test_hostile_inputs import EXPECTED

pytestmark = [pytest.mark.integration, pytest.mark.faults]

HOSTILE = REPO / "tests" / "fixtures" / "hostile"
XML_COURT = "CA030015J"  # Orange: its mapping reads ECF 5 XML
FIFTY_MB = b'{"miscellaneous": "' + b"A" * 50_000_000 + b'"}'


def _dead_letters(run: FaultRun) -> dict[str, str]:
    """message id -> reason, for everything in this run's dead-letter queue (peeked)."""
    connection = pika.BlockingConnection(pika.URLParameters(run.amqp.url))
    out = {}
    try:
        channel = connection.channel()
        while True:
            method, props, _ = channel.basic_get(run.amqp.dead_letter_queue)
            if method is None:
                break
            out[props.message_id] = str((props.headers or {}).get(ERROR_HEADER, ""))
    finally:
        connection.close()
    return out


def test_hostile_corpus_refused_with_reasons_and_the_queue_moves_on(tmp_path: Path) -> None:
    """Each hostile message (corpus + 50 MB) is recorded with an error naming the problem;
    the normal order published right after each is ACKED."""
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    shutil.copy(REPO / "config" / "mappings" / "orange-ecf5-xml" / "mapping.yaml",
                mappings / "orange.yaml")
    run = FaultRun(tmp_path, "hostile input: corpus + 50 MB through engine run",
                   extra_config={"mappings_dir": "mappings", "courts": {
                       XML_COURT: {"mapping": "orange", "destination": "doj"},
                       "*": {"mapping": "canonical", "destination": "doj"}}})
    try:
        files = sorted(EXPECTED)
        normals = [p for p in order_stream(run.prefix, len(files) + 1) if p.version == 1]
        sent: dict[str, str] = {}  # message id -> file name
        for name, normal in zip([*files, "fifty_megabytes"], normals, strict=False):
            if name == "fifty_megabytes":
                body, expected = FIFTY_MB, "limit"
            else:
                body, expected = (HOSTILE / name).read_bytes(), EXPECTED[name]
            headers = {"x-court-ori": XML_COURT} if name.endswith(".xml") else None
            sent[run.publish_raw(body, headers=headers)] = name
            run.publish([normal])
        run.start_engine()
        run.wait_settled()
        report = run.check(hostile_messages=len(sent))
        run.assert_clean(report)
        assert report.orders == len(sent)

        dead = _dead_letters(run)
        for message_id, name in sent.items():
            expected = "limit" if name == "fifty_megabytes" else EXPECTED[name]
            record = run.intake_record(message_id)
            if record is not None:
                assert record["outcome"] in ("invalid", "replaced"), (name, record["outcome"])
                reason = record["reason"] or ""
            else:
                assert message_id in dead, f"{name}: neither recorded nor dead-lettered"
                reason = dead[message_id]
            assert expected in reason, f"{name}: reason {reason!r} does not name the problem"
        assert run.engine.alive()
    finally:
        run.close()
