"""RabbitMQ intake: takes court messages off a durable quorum queue into the ledger.

One I/O thread does everything (pika connections are not thread-safe): it consumes, runs
the pipeline, commits to the ledger and acks, so no ack ever crosses threads.

Ack rules (invariant 1; the commit-then-ack part is `engine.intake.batch`, tested in
tests/intake/test_core_intake.py; the broker's side in tests/integration):

* a message is acked only after its ledger commit; messages are committed in batches
  (``batch_size`` messages or ``batch_ms``), then acked together with ``multiple=True``;
* a bad order is *recorded* (INVALID with its reason) and then acked: it is processed;
  a message a court's mapping refuses outright (its bytes are no order: a legacy export
  with a missing trailer, say) is also copied to the dead-letter exchange with that reason,
  so the court's file is kept and `engine dlq replay` can take it again once the export or
  the mapping is fixed;
* the ledger unavailable: the batch is retried in place (heartbeats keep flowing through
  ``connection.sleep``); if it stays down the channel is closed, the broker requeues the
  batch, and the consumer reconnects with backoff;
* poison (the ledger refuses the message itself, `LedgerRefused`, even alone): a copy is
  published to the dead-letter exchange with the reason in the ``x-engine-error`` header
  (publisher confirms), then the original is acked. If that publish is not confirmed the
  original is ``basic_reject(requeue=False)``-ed, and the queue's own dead-lettering moves it
  (with ``x-death`` but without our reason). Either way it lands in the dead-letter queue,
  and the queue moves on. A message that crashes the process is redelivered; the quorum
  queue's ``x-delivery-limit`` dead-letters it after that many tries.

Connection loss at any point means the broker redelivers what was not acked; the ledger
knows those as duplicates. Reconnection re-declares the topology.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import pika
import pika.exceptions
import structlog

from engine.config import AmqpConfig
from engine.errors import LedgerError
from engine.intake.batch import LEDGER_RETRY, Delivery, IntakeBatch
from engine.intake.pipeline import IntakeMessage, Pipeline
from engine.reliability.retry import RetryPolicy, durable_delay

__all__ = [
    "ERROR_HEADER",
    "AmqpIntake",
    "Delivery",
    "IntakeBatch",
    "declare_intake_topology",
]

log = structlog.get_logger(__name__)

#: Header carrying why the engine dead-lettered a message (no personal data).
ERROR_HEADER = "x-engine-error"
#: Header naming the court when its messages need a mapping.
COURT_HEADER = "x-court-ori"
#: Header naming which of the court's CMS sources sent the message (config sources).
SOURCE_HEADER = "x-court-source"
#: Backoff between reconnection attempts.
RECONNECT = RetryPolicy(max_retries=0, initial_interval=0.5, max_interval=30.0,
                        max_elapsed=1.0, jitter=0.5)


def declare_intake_topology(channel: Any, config: AmqpConfig) -> None:
    """Durable quorum intake queue dead-lettering to a durable quorum dead-letter queue."""
    channel.exchange_declare(config.dead_letter_exchange, exchange_type="direct",
                             durable=True)
    channel.queue_declare(config.dead_letter_queue, durable=True,
                          arguments={"x-queue-type": "quorum"})
    channel.queue_bind(config.dead_letter_queue, config.dead_letter_exchange,
                       routing_key=config.intake_queue)
    channel.queue_declare(config.intake_queue, durable=True, arguments={
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": config.dead_letter_exchange,
        "x-dead-letter-routing-key": config.intake_queue,
        "x-delivery-limit": config.delivery_limit,
    })


def connection_parameters(config: AmqpConfig) -> pika.ConnectionParameters:
    """pika parameters from the URL (amqps:// turns TLS on), with our heartbeat.

    The transports' `amqp_settings` reads TLS files and options from the URL when it is
    installed; plain pika URL parsing otherwise.
    """
    try:
        from engine.transports.amqp_settings import connection_parameters as from_url
    except ImportError:
        params: pika.ConnectionParameters = pika.URLParameters(config.url)
    else:
        params = from_url(config.url)
    params.heartbeat = config.heartbeat
    params.blocked_connection_timeout = 60
    params.connection_attempts = 1
    return params


class AmqpIntake:
    """The intake consumer. `run(stop)` blocks, reconnecting, until ``stop`` is set."""

    #: OSError too: pika lets TLS handshake failures (``ssl.SSLError``, e.g. a certificate
    #: that does not verify) and some socket errors out unwrapped. They are retried with
    #: backoff like any lost connection; they must not end the intake thread (and with it
    #: the engine).
    _CONNECTION_ERRORS = (pika.exceptions.AMQPConnectionError,
                          pika.exceptions.AMQPChannelError,
                          pika.exceptions.ConnectionClosed,
                          pika.exceptions.StreamLostError,
                          OSError)

    def __init__(self, config: AmqpConfig, pipeline: Pipeline, *,
                 ledger_retry: RetryPolicy = LEDGER_RETRY) -> None:
        self._config = config
        self._pipeline = pipeline
        self._ledger_retry = ledger_retry
        self.connected = threading.Event()

    def run(self, stop: threading.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                self._consume(stop)
                failures = 0
            except self._CONNECTION_ERRORS as exc:
                failures += 1
                log.warning("intake connection lost; reconnecting",
                            error_class=type(exc).__name__, attempt=failures)
            except LedgerError as exc:
                failures += 1
                log.warning("ledger unavailable; intake batch handed back to the broker",
                            error_class=type(exc).__name__, attempt=failures)
            except Exception as exc:
                # Anything else (pika raises ValueError when a socket is reset while it
                # connects) must not end the intake thread, and with it the engine: the
                # unacked messages go back to the broker with the connection; reconnect.
                failures += 1
                log.exception("intake failed unexpectedly; reconnecting",
                              error_class=type(exc).__name__, attempt=failures)
            self.connected.clear()
            if failures:
                stop.wait(durable_delay(RECONNECT, failures).total_seconds())

    def _consume(self, stop: threading.Event) -> None:
        config = self._config
        connection = pika.BlockingConnection(connection_parameters(config))
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            channel.basic_qos(prefetch_count=config.prefetch)
            declare_intake_topology(channel, config)

            def dead_letter(delivery: Delivery, reason: str) -> bool:
                props = delivery.properties
                headers = dict((props.headers if props is not None else None) or {})
                headers[ERROR_HEADER] = reason[:1000]
                try:
                    channel.basic_publish(
                        config.dead_letter_exchange, config.intake_queue, delivery.body,
                        pika.BasicProperties(
                            headers=headers, delivery_mode=2,
                            content_type=getattr(props, "content_type", None),
                            message_id=getattr(props, "message_id", None)),
                        mandatory=True)
                    return True
                except (pika.exceptions.UnroutableError, pika.exceptions.NackError):
                    return False

            batch = IntakeBatch(
                self._pipeline,
                ack=lambda tag, multiple: channel.basic_ack(tag, multiple=multiple),
                reject=lambda tag: channel.basic_reject(tag, requeue=False),
                dead_letter=dead_letter, sleep=connection.sleep,
                ledger_retry=self._ledger_retry)
            self.connected.set()
            log.info("intake consuming", queue=config.intake_queue, prefetch=config.prefetch)
            timeout = config.batch_ms / 1000
            for method, props, body in channel.consume(config.intake_queue,
                                                       inactivity_timeout=timeout):
                if method is not None:
                    headers = (props.headers or {}) if props is not None else {}
                    court, source = headers.get(COURT_HEADER), headers.get(SOURCE_HEADER)
                    batch.add(Delivery(method.delivery_tag, IntakeMessage(
                        body, message_id=props.message_id if props else None,
                        court_ori=str(court) if court is not None else None,
                        source=str(source) if source is not None else None), props, body))
                if method is None or batch.due(size=config.batch_size, wait=timeout):
                    batch.flush()
                if stop.is_set() and not batch.items:
                    break
            channel.cancel()  # hands back anything buffered but not yet ours
        finally:
            self.connected.clear()
            if connection.is_open:
                with contextlib.suppress(*self._CONNECTION_ERRORS):
                    connection.close()
