"""Dead letters: the intake messages the engine could not even record, and replaying them.

With AMQP, they sit in the dead-letter queue with the reason in ``x-engine-error`` (or the
broker's ``x-death`` when the queue dead-lettered them itself). Listing peeks without taking
(the messages go back when the channel closes); replaying publishes each to the intake queue
with publisher confirms, then acks it off the dead-letter queue, so a crash in between makes
a duplicate (which the ledger absorbs), never a loss.

With the spool, they are the files in ``spool/invalid/`` (a ``.reason`` file beside each);
replaying moves them back to ``spool/incoming/``. A file is a dead letter unless it is the
reason of another one: an invalid file that happens to be called ``*.reason`` still counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pika
import pika.exceptions

from engine.config import EngineConfig
from engine.errors import TransportUnavailable
from engine.intake.amqp import ERROR_HEADER, connection_parameters, declare_intake_topology

__all__ = ["dead_letter_depth", "list_dead_letters", "replay_dead_letters", "where"]


def where(config: EngineConfig) -> str:
    if config.amqp is not None:
        return f"queue {config.amqp.dead_letter_queue}"
    return str(config.spool_dir / "invalid")


def _reason(headers: dict[str, Any]) -> str:
    if ERROR_HEADER in headers:
        return str(headers[ERROR_HEADER])
    deaths = headers.get("x-death") or []
    if deaths:
        death = deaths[0]
        return f"dead-lettered by the broker: {death.get('reason')} x{death.get('count')}"
    return "(no reason recorded)"


def _spool_dead_letters(folder: Path) -> list[Path]:
    """The dead letters in ``spool/invalid``: every entry but the reason files of others
    (a link is listed, never followed)."""
    if not folder.is_dir():
        return []
    names = {p.name: p for p in folder.iterdir()}
    return sorted(p for name, p in names.items()
                  if not (name.endswith(".reason") and name[:-len(".reason")] in names)
                  and (p.is_symlink() or not p.is_dir()))


def _open(config: EngineConfig):  # type: ignore[no-untyped-def]
    assert config.amqp is not None
    try:
        connection = pika.BlockingConnection(connection_parameters(config.amqp))
    except pika.exceptions.AMQPError as exc:
        raise TransportUnavailable(f"cannot reach the broker: {type(exc).__name__}") from exc
    channel = connection.channel()
    declare_intake_topology(channel, config.amqp)
    return connection, channel


def dead_letter_depth(config: EngineConfig) -> int:
    """How many dead letters wait for a person: the DLQ's message count (or spool/invalid).

    Asked at scrape time by the metrics endpoint; a broker that cannot be reached raises
    `TransportUnavailable`, and the gauge is left out of that scrape.
    """
    if config.amqp is None:
        return len(_spool_dead_letters(config.spool_dir / "invalid"))
    connection, channel = _open(config)
    try:
        frame = channel.queue_declare(config.amqp.dead_letter_queue, passive=True)
        return int(frame.method.message_count)
    finally:
        connection.close()


def list_dead_letters(config: EngineConfig, *, limit: int = 100) -> list[dict[str, Any]]:
    """Up to ``limit`` dead letters: id, size and reason (never the body)."""
    if config.amqp is None:
        items = []
        for path in _spool_dead_letters(config.spool_dir / "invalid")[:limit]:
            reason_file = path.with_name(path.name + ".reason")
            reason = (reason_file.read_text(encoding="utf-8", errors="replace").strip()
                      if reason_file.is_file() else "(no reason recorded)")
            items.append({"id": path.name, "size": path.lstat().st_size, "reason": reason})
        return items
    connection, channel = _open(config)
    items = []
    try:
        for _ in range(limit):
            method, props, body = channel.basic_get(config.amqp.dead_letter_queue)
            if method is None:
                break
            items.append({"id": props.message_id or f"delivery-{method.delivery_tag}",
                          "size": len(body), "reason": _reason(props.headers or {})})
    finally:
        connection.close()  # unacked: every peeked message goes back to the queue
    return items


def replay_dead_letters(config: EngineConfig, *, limit: int = 100) -> int:
    """Send up to ``limit`` dead letters back to the intake; returns how many."""
    if config.amqp is None:
        folder = config.spool_dir / "invalid"
        incoming = config.spool_dir / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        count = 0
        for item in list_dead_letters(config, limit=limit):
            path = folder / item["id"]
            path.replace(incoming / path.name)
            path.with_name(path.name + ".reason").unlink(missing_ok=True)
            count += 1
        return count
    amqp = config.amqp
    connection, channel = _open(config)
    channel.confirm_delivery()
    count = 0
    try:
        for _ in range(limit):
            method, props, body = channel.basic_get(amqp.dead_letter_queue)
            if method is None:
                break
            headers = {k: v for k, v in (props.headers or {}).items()
                       if k not in (ERROR_HEADER, "x-death", "x-first-death-exchange",
                                    "x-first-death-queue", "x-first-death-reason")}
            channel.basic_publish("", amqp.intake_queue, body, pika.BasicProperties(
                headers=headers, delivery_mode=2, message_id=props.message_id,
                content_type=props.content_type), mandatory=True)
            channel.basic_ack(method.delivery_tag)
            count += 1
    finally:
        connection.close()
    return count
