"""The receiver over AMQP: consume the DOJ queue, answer on each message's ``reply_to`` queue.

Contract for senders (what `engine.transports.amqp.AmqpTransport` does): publish the
message persistent, with ``message_id`` (or ``correlation_id``) = the message control
number and ``reply_to`` = the queue for the answer. The answer is published to the
default exchange with routing key ``reply_to``, ``correlation_id`` = the MCN, persistent,
with publisher confirms; only then is the inbound delivery acked (a crash in between means
redelivery, and the duplicate gets the same answer).

A message without an MCN is rejected without requeue (to the queue's dead-letter
exchange); one without ``reply_to`` is processed and counted (``no_reply_to``).
Under ``fail`` the answer is a retryable ``BUSY`` reject; under ``drop`` there is none;
``ack_delay`` sends answers late (others go on meanwhile). ``down()`` closes the
connection (unacked messages go back to the queue); ``up()`` consumes again.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from types import TracebackType
from typing import Any, Self

import pika
import pika.exceptions

from engine.errors import TransportError
from engine.receiver.core import Receiver
from engine.transports.amqp_settings import (
    AmqpSettings,
    QueueTopology,
    connection_parameters,
    declare_topology,
)

__all__ = ["AmqpReceiver"]

log = logging.getLogger(__name__)

#: Seconds between reconnect attempts after the broker went away.
_RECONNECT_DELAY = 1.0


class AmqpReceiver:
    """Consumes ``queue`` in a thread of its own (pika connections are not thread-safe)."""

    def __init__(self, receiver: Receiver, *, queue: str,
                 settings: AmqpSettings | str = "amqp://guest:guest@127.0.0.1:5672/%2F",
                 declare: bool = True, delivery_limit: int = 5, prefetch: int = 50) -> None:
        self.receiver = receiver
        self.queue = queue
        self.parameters = connection_parameters(settings)
        self.topology = QueueTopology(queue=queue, delivery_limit=delivery_limit) \
            if declare else None
        self.prefetch = prefetch
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection: pika.BlockingConnection | None = None
        self.error: BaseException | None = None

    @property
    def is_up(self) -> bool:
        return self._thread is not None

    def up(self, *, timeout: float = 30.0) -> Self:
        """Start consuming; returns once the consumer is registered (or raises its error)."""
        if self._thread is not None:
            return self
        self._stop.clear()
        self._ready.clear()
        self.error = None
        self._thread = threading.Thread(target=self._run, name=f"receiver:amqp:{self.queue}",
                                        daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.down()
            raise TimeoutError(f"AMQP receiver did not start consuming {self.queue!r}")
        if self.error is not None:
            error = self.error
            self.down()
            raise error
        return self

    start = up

    def down(self) -> None:
        """Stop consuming and close the connection; unacked messages return to the queue."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        connection = self._connection
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.add_callback_threadsafe(lambda: None)  # wake the I/O loop
        thread.join()

    stop = down

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._consume()
            except (pika.exceptions.AMQPError, OSError, TransportError) as exc:
                if not self._ready.is_set():
                    self.error = exc  # up() raises it: the receiver cannot start
                    self._ready.set()
                    return
                log.warning("AMQP receiver lost its connection (%s); reconnecting",
                            exc.__class__.__name__)
                self._stop.wait(_RECONNECT_DELAY)
            except Exception as exc:
                log.exception("AMQP receiver stopped")
                self.error = exc
                self._ready.set()
                return

    def _consume(self) -> None:
        connection = pika.BlockingConnection(self.parameters)
        self._connection = connection
        try:
            channel = connection.channel()
            if self.topology is not None:
                declare_topology(channel, self.topology)
            replies = connection.channel()
            replies.confirm_delivery()
            channel.basic_qos(prefetch_count=self.prefetch)
            channel.basic_consume(
                self.queue,
                lambda ch, method, props, body: self._on_message(
                    connection, ch, replies, method, props, body))
            self._ready.set()
            while not self._stop.is_set():
                connection.process_data_events(time_limit=0.1)
        finally:
            self._connection = None
            with contextlib.suppress(Exception):
                connection.close()

    def _on_message(self, connection: pika.BlockingConnection, channel: Any, replies: Any,
                    method: Any, props: pika.BasicProperties, body: bytes) -> None:
        headers = props.headers or {}
        mcn = props.message_id or props.correlation_id or headers.get("x-message-control-number")
        if not mcn:
            self.receiver.journal.count("no_mcn")
            channel.basic_reject(method.delivery_tag, requeue=False)
            return
        outcome = self.receiver.handle(str(mcn), body, props.content_type, transport="amqp")
        if outcome.action == "fail":
            answers: tuple[bytes, ...] = (
                self.receiver.busy_reply(str(mcn), props.content_type, body),)
            content_type = outcome.content_type
        elif outcome.action == "drop":
            answers = ()
            content_type = outcome.content_type
        else:
            answers, content_type = outcome.replies, outcome.content_type

        def answer() -> None:
            if answers and not props.reply_to:
                self.receiver.journal.count("no_reply_to")
            elif answers:
                for reply in answers:
                    self._publish_reply(replies, props.reply_to, str(mcn), reply, content_type)
            channel.basic_ack(method.delivery_tag)

        if outcome.delay and answers:
            connection.call_later(outcome.delay, answer)
        else:
            answer()

    def _publish_reply(self, replies: Any, reply_to: str, mcn: str, body: bytes,
                       content_type: str) -> None:
        properties = pika.BasicProperties(
            delivery_mode=pika.DeliveryMode.Persistent, correlation_id=mcn,
            message_id=uuid.uuid4().hex, content_type=content_type)
        try:
            replies.basic_publish("", reply_to, body, properties, mandatory=True)
        except (pika.exceptions.UnroutableError, pika.exceptions.NackError):
            self.receiver.journal.count("unroutable_replies")

    def __enter__(self) -> Self:
        return self.up()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.down()
