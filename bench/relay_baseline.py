"""The bare relay: the fastest an engine on this broker could possibly go.

A minimal pika consumer that moves each message from one durable queue to another with
manual acks and publisher confirms, doing no work. The pipeline benchmark runs it in the
same session as the engine and reports engine throughput as a ratio of it, so the figure
says what the engine costs, not how fast this machine happens to be today.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid

import pika

__all__ = ["run_relay"]


def _connect(url: str) -> pika.BlockingConnection:
    return pika.BlockingConnection(pika.URLParameters(url))


def _declare(channel, name: str) -> None:
    channel.queue_declare(name, durable=True, arguments={"x-queue-type": "quorum"})


def fill(url: str, queue: str, bodies: list[bytes]) -> None:
    """Publish the bodies to the queue (persistent, confirmed), before the clock starts."""
    conn = _connect(url)
    ch = conn.channel()
    _declare(ch, queue)
    ch.confirm_delivery()
    props = pika.BasicProperties(delivery_mode=2, content_type="application/json")
    for body in bodies:
        ch.basic_publish("", queue, body, props)
    conn.close()


def run_relay(url: str, source: str, target: str, count: int, *, prefetch: int = 200,
              batch: int = 100) -> dict:
    """Move `count` messages source -> target; ack source after the batch is confirmed."""
    conn = _connect(url)
    ch = conn.channel()
    _declare(ch, source)
    _declare(ch, target)
    ch.confirm_delivery()
    ch.basic_qos(prefetch_count=prefetch)
    props = pika.BasicProperties(delivery_mode=2)
    moved = 0
    pending_tag = None
    in_batch = 0
    start = time.perf_counter()
    for method, _props, body in ch.consume(source, inactivity_timeout=10):
        if method is None:
            raise RuntimeError(f"relay stalled after {moved} of {count} messages")
        # With confirms on, basic_publish returns once the broker has confirmed it.
        ch.basic_publish("", target, body, props)
        moved += 1
        in_batch += 1
        pending_tag = method.delivery_tag
        if in_batch >= batch or moved == count:
            ch.basic_ack(pending_tag, multiple=True)
            in_batch = 0
        if moved == count:
            break
    elapsed = time.perf_counter() - start
    ch.cancel()
    conn.close()
    return {"messages": moved, "seconds": elapsed, "per_second": moved / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    parser.add_argument("-n", "--count", type=int, default=5000)
    parser.add_argument("--size", type=int, default=2500, help="bytes per message")
    args = parser.parse_args()
    tag = uuid.uuid4().hex[:8]
    source, target = f"bench.relay.in.{tag}", f"bench.relay.out.{tag}"
    fill(args.url, source, [b"x" * args.size] * args.count)
    try:
        print(json.dumps(run_relay(args.url, source, target, args.count)))
    finally:
        conn = _connect(args.url)
        ch = conn.channel()
        ch.queue_delete(source)
        ch.queue_delete(target)
        conn.close()


if __name__ == "__main__":
    main()
