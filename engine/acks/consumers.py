"""Acknowledgements that arrive later, on their own channel, fed to the correlator.

Asynchronous transports return no ack in the `Receipt`: the AMQP transport names our ack
queue in ``reply_to`` and the DOJ answers there; the file transport's DOJ drops ack files in
an inbox. These consumers read those channels and hand each answer to
`Correlator.apply_bytes`, which records it (malformed and unknown ones too). AMQP acks are
applied in batches (one ledger transaction for what arrived together, then one broker ack
with ``multiple=True``), and acked to the broker only after that ledger commit; an ack
file is archived only after it. A ledger outage leaves them where they are, to be read again.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pika
import pika.exceptions
import structlog

from engine.acks.correlator import Correlator
from engine.errors import LedgerError
from engine.reliability.retry import RetryPolicy, durable_delay

__all__ = ["AmqpAckConsumer", "FileAckPoller"]

log = structlog.get_logger(__name__)

_RECONNECT = RetryPolicy(max_retries=0, initial_interval=0.5, max_interval=30.0,
                         max_elapsed=1.0, jitter=0.5)


class AmqpAckConsumer:
    """Consumes one ack queue (a durable quorum queue we own) on one I/O thread."""

    def __init__(self, *, url: str, queue: str, fmt: str, correlator: Correlator,
                 prefetch: int = 100, batch_size: int = 100, batch_wait: float = 0.02) -> None:
        self._url = url
        self._queue = queue
        self._fmt = fmt
        self._correlator = correlator
        self._prefetch = max(prefetch, batch_size)
        #: Acks applied in one ledger transaction: at most this many, or what arrived
        #: before the queue was quiet for ``batch_wait`` seconds.
        self._batch_size = batch_size
        self._batch_wait = batch_wait
        self.connected = threading.Event()

    def _parameters(self) -> pika.ConnectionParameters:
        try:  # the transports' settings understand amqps:// and TLS files
            from engine.transports.amqp_settings import connection_parameters
        except ImportError:
            return pika.URLParameters(self._url)
        return connection_parameters(self._url)

    def run(self, stop: threading.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                self._consume(stop)
                failures = 0
            except (pika.exceptions.AMQPError, LedgerError, OSError) as exc:
                # OSError: TLS handshake and socket errors pika does not wrap.
                failures += 1
                log.warning("ack consumer interrupted; reconnecting", queue=self._queue,
                            error_class=type(exc).__name__, attempt=failures)
            except Exception as exc:
                # Anything else (pika raises ValueError when a socket is reset while it
                # connects) must not end the thread; unacked acks are redelivered.
                failures += 1
                log.exception("ack consumer failed unexpectedly; reconnecting",
                              queue=self._queue, error_class=type(exc).__name__,
                              attempt=failures)
            self.connected.clear()
            if failures:
                stop.wait(durable_delay(_RECONNECT, failures).total_seconds())

    def _consume(self, stop: threading.Event) -> None:
        connection = pika.BlockingConnection(self._parameters())
        try:
            channel = connection.channel()
            channel.basic_qos(prefetch_count=self._prefetch)
            channel.queue_declare(self._queue, durable=True,
                                  arguments={"x-queue-type": "quorum"})
            self.connected.set()
            held: list[tuple[int, bytes]] = []
            for method, _props, body in channel.consume(self._queue,
                                                        inactivity_timeout=self._batch_wait):
                if method is not None:
                    held.append((method.delivery_tag, body))
                if held and (method is None or len(held) >= self._batch_size):
                    # One ledger transaction for the batch, then one ack for all of it.
                    self._correlator.apply_many([b for _, b in held], self._fmt)
                    channel.basic_ack(held[-1][0], multiple=True)
                    held = []
                if stop.is_set() and not held:
                    break
            channel.cancel()
        finally:
            self.connected.clear()
            if connection.is_open:
                with contextlib.suppress(pika.exceptions.AMQPError):
                    connection.close()


def _list_ack_files(inbox: Path) -> Iterator[tuple[Path, bytes]]:
    for path in sorted(inbox.iterdir()) if inbox.is_dir() else []:
        if path.name.startswith(".") or not path.is_file():
            continue
        try:
            yield path, path.read_bytes()
        except FileNotFoundError:  # another replica took it
            continue


class FileAckPoller:
    """Reads ack files from an inbox; each, once recorded, moves to ``<inbox>/.done/``."""

    def __init__(self, *, inbox: Path, fmt: str, correlator: Correlator,
                 lister: Callable[[Path], Iterator[tuple[Path, bytes]]] | None = None) -> None:
        self._inbox = inbox
        self._fmt = fmt
        self._correlator = correlator
        if lister is None:
            try:
                from engine.transports.file import poll_file_acks
            except ImportError:
                lister = _list_ack_files
            else:
                lister = poll_file_acks
        self._list: Callable[[Path], Iterator[tuple[Path, bytes]]] = lister

    def run_once(self) -> int:
        done = self._inbox / ".done"
        count = 0
        for path, data in self._list(self._inbox):
            try:
                self._correlator.apply_bytes(data, self._fmt)
            except LedgerError:
                log.warning("ledger unavailable; ack files stay for the next round")
                return count
            done.mkdir(exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                path.replace(done / path.name)
            count += 1
        return count

    def run(self, stop: threading.Event, *, poll_interval: float = 0.5) -> None:
        while not stop.is_set():
            if not self.run_once():
                stop.wait(poll_interval)
