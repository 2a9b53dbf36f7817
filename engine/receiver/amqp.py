"""The receiver over AMQP: consume the DOJ queue, answer on each message's ``reply_to`` queue.

Contract for senders (what `engine.transports.amqp.AmqpTransport` does): publish the
message persistent, with ``message_id`` (or ``correlation_id``) = the message control
number and ``reply_to`` = the queue for the answer. The answer is published to the
default exchange with routing key ``reply_to``, ``correlation_id`` = the MCN, persistent,
with publisher confirms; only then is the inbound delivery acked (a crash in between means
redelivery, and the duplicate gets the same answer). The messages that arrived together
are answered together: every answer published, then the confirms awaited once for all of
them (pipelined, as the engine's own transport does), then each delivery acked.

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
from engine.transports.amqp_publish import OutgoingMessage, PipelinedChannel
from engine.transports.amqp_settings import AmqpSettings, connection_parameters
from engine.transports.amqp_topology import QueueTopology, declare_topology

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
            replies = PipelinedChannel(connection)
            channel.basic_qos(prefetch_count=self.prefetch)
            # Callbacks only collect; answering happens here, outside pika's callbacks,
            # because waiting for confirms runs the connection's event loop itself.
            arrived: list[tuple[Any, pika.BasicProperties, bytes]] = []
            late: list[tuple[list[int], list[OutgoingMessage]]] = []
            channel.basic_consume(self.queue, lambda _ch, method, props, body:
                                  arrived.append((method, props, body)))
            self._ready.set()
            while not self._stop.is_set():
                connection.process_data_events(time_limit=0.1)
                while (arrived or late) and not self._stop.is_set():
                    batch, arrived[:] = list(arrived), []
                    due, late[:] = list(late), []
                    for tags, messages in due:
                        self._publish_and_ack(channel, replies, tags, messages)
                    self._answer_batch(connection, channel, replies, batch, late)
                    connection.process_data_events(time_limit=0)
        finally:
            self._connection = None
            with contextlib.suppress(Exception):
                connection.close()

    def _answer_batch(self, connection: pika.BlockingConnection, channel: Any,
                      replies: PipelinedChannel,
                      batch: list[tuple[Any, pika.BasicProperties, bytes]],
                      late: list[tuple[list[int], list[OutgoingMessage]]]) -> None:
        """Decide every message, publish the answers due now in one pipelined batch, then
        ack each delivery whose answers the broker confirmed. Late answers (``ack_delay``)
        join ``late`` when their timer fires, and go out from the consume loop."""
        outgoing: list[OutgoingMessage] = []
        answered: list[int] = []  # delivery tags whose answers are in ``outgoing``
        for method, props, body in batch:
            answers = self._decide(channel, method, props, body)
            if answers is None:
                continue
            messages, delay = answers
            if delay:
                connection.call_later(delay, lambda m=messages, t=method.delivery_tag:
                                      late.append(([t], m)))
            else:
                outgoing += messages
                answered.append(method.delivery_tag)
        self._publish_and_ack(channel, replies, answered, outgoing)

    def _decide(self, channel: Any, method: Any, props: pika.BasicProperties, body: bytes
                ) -> tuple[list[OutgoingMessage], float] | None:
        """The answers to one message and their delay; None when it is not answered."""
        headers = props.headers or {}
        mcn = props.message_id or props.correlation_id or headers.get("x-message-control-number")
        if not mcn:
            self.receiver.journal.count("no_mcn")
            channel.basic_reject(method.delivery_tag, requeue=False)
            return None
        outcome = self.receiver.handle(str(mcn), body, props.content_type, transport="amqp")
        if outcome.action == "fail":
            answers: tuple[bytes, ...] = (
                self.receiver.busy_reply(str(mcn), props.content_type, body),)
        elif outcome.action == "drop":
            answers = ()
        else:
            answers = outcome.replies
        if answers and not props.reply_to:
            self.receiver.journal.count("no_reply_to")
            answers = ()
        messages = [OutgoingMessage(
            routing_key=props.reply_to, body=reply, correlation_id=str(mcn),
            message_id=uuid.uuid4().hex, content_type=outcome.content_type)
            for reply in answers]
        return messages, (outcome.delay if messages else 0.0)

    def _publish_and_ack(self, channel: Any, replies: PipelinedChannel,
                         answered: list[int],
                         messages: list[OutgoingMessage]) -> None:
        """Publish ``messages`` (confirms awaited together), then ack each delivery. An
        unroutable or refused answer is counted; a lost connection raises, and the broker
        redelivers what was not acked (a duplicate gets the same answer)."""
        for error in replies.publish(messages) if messages else []:
            if error is not None:
                self.receiver.journal.count("unroutable_replies")
        for tag in answered:
            channel.basic_ack(tag)

    def __enter__(self) -> Self:
        return self.up()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.down()
