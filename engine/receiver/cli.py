"""``engine receiver``: run the DOJ reference receiver on a real socket, with optional faults.

    engine receiver --transport http --port 8080 --format niem --fail-rate 0.1
    engine receiver --transport tcp --port 9100 --tls-cert srv.pem --tls-key srv.key
    ENGINE_RECEIVER_AMQP_URL=amqps://doj:...@broker/ engine receiver --transport amqp \
        --queue doj.orders       # or --amqp-url-file /run/secrets/url; never the password in argv
    engine receiver --transport file --pickup /srv/doj/in --acks /srv/doj/acks

Runs until interrupted (or ``--duration`` seconds), then prints the journal's totals.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from engine.ack_types import Accepted, Rejected
from engine.receiver._sockets import ServerTls
from engine.receiver.core import Outcome, Receiver
from engine.receiver.faults import Fault, FaultPlan
from engine.receiver.formats import FORMATS
from engine.receiver.journal import Journal

__all__ = ["build_server", "describe_outcome", "register_receiver"]

_DEFAULT_PORTS = {"http": 8080, "tcp": 9100}
#: Where the receiver's AMQP URL (with its password) comes from when not in a file.
AMQP_URL_ENV = "ENGINE_RECEIVER_AMQP_URL"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


def _amqp_url(args: argparse.Namespace) -> str:
    """The broker URL from --amqp-url-file, $ENGINE_RECEIVER_AMQP_URL or --amqp-url (which
    must not carry a password), else the local default."""
    import os
    import urllib.parse

    if args.amqp_url_file:
        try:
            return str(args.amqp_url_file.read_text(encoding="utf-8")).strip()
        except OSError as exc:
            raise SystemExit(f"engine receiver: cannot read --amqp-url-file "
                             f"({type(exc).__name__})") from None
    if os.environ.get(AMQP_URL_ENV):
        return os.environ[AMQP_URL_ENV].strip()
    if args.amqp_url:
        try:
            password = urllib.parse.urlsplit(args.amqp_url).password
        except ValueError:
            raise SystemExit("engine receiver: --amqp-url cannot be parsed") from None
        if password:
            raise SystemExit(f"engine receiver: --amqp-url carries a password, which every "
                             f"user can read in the process list: put the URL in "
                             f"${AMQP_URL_ENV} or --amqp-url-file")
        return str(args.amqp_url)
    return DEFAULT_AMQP_URL


def _server_tls(args: argparse.Namespace) -> ServerTls | None:
    """TLS from the flags, or None for plain; `SystemExit` when they do not fit together
    (a CA or --require-client-cert without a server certificate would serve plain text)."""
    if not (args.tls_cert or args.tls_key):
        if args.tls_ca or args.require_client_cert:
            raise SystemExit("engine receiver: --tls-ca and --require-client-cert need "
                             "--tls-cert and --tls-key (without them it would serve plain "
                             "text)")
        return None
    if not (args.tls_cert and args.tls_key):
        raise SystemExit("engine receiver: --tls-cert and --tls-key go together")
    if args.require_client_cert and not args.tls_ca:
        raise SystemExit("engine receiver: --require-client-cert needs --tls-ca (the CA "
                         "that signs client certificates)")
    try:
        return ServerTls(cert_file=args.tls_cert, key_file=args.tls_key, ca_file=args.tls_ca,
                         require_client_cert=bool(args.tls_ca))
    except ValueError as exc:
        raise SystemExit(f"engine receiver: {exc}") from exc


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _outage(text: str) -> tuple[float, float]:
    try:
        after, seconds = (float(part) for part in text.split(",", 1))
    except ValueError as exc:
        raise argparse.ArgumentTypeError("expected AFTER,SECONDS, e.g. 10,60") from exc
    return after, seconds


def register_receiver(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``engine receiver`` to the command line."""
    p = sub.add_parser(
        "receiver", help="run the DOJ reference receiver (conformance and fault testing)",
        description="Receive, validate and acknowledge messages as a DOJ endpoint would.")
    p.add_argument("--transport", required=True, choices=["http", "tcp", "amqp", "file"])
    p.add_argument("--format", default="auto", choices=["auto", *sorted(FORMATS)],
                   help="message format to validate (auto: by content type, then by look)")
    p.add_argument("--journal", default=":memory:", metavar="PATH",
                   help="SQLite journal of every answered message (default: in memory)")
    p.add_argument("--record-prefix", default="H", metavar="TEXT",
                   help="record ids are this prefix + 9 digits (default H, NCIC-shaped)")
    net = p.add_argument_group("http and tcp")
    net.add_argument("--host", default="127.0.0.1")
    net.add_argument("--port", type=int, help="default 8080 (http), 9100 (tcp); 0 picks one")
    net.add_argument("--path", default="/orders", help="http: the path to POST to")
    net.add_argument("--tls-cert", type=Path, help="server certificate (turns TLS on)")
    net.add_argument("--tls-key", type=Path, help="server private key")
    net.add_argument("--tls-ca", type=Path,
                     help="CA that signs client certificates: turns mutual TLS on (clients "
                          "without a certificate it signed are refused)")
    net.add_argument("--require-client-cert", action="store_true",
                     help="mutual TLS (needs --tls-ca; implied by it)")
    net.add_argument("--max-frame-size", type=int, default=4 * 1024 * 1024,
                     help="tcp: largest frame payload accepted (bytes)")
    amqp = p.add_argument_group("amqp")
    amqp.add_argument("--amqp-url", help="broker URL without a password (one with a password "
                      f"goes in ${AMQP_URL_ENV} or --amqp-url-file: argv is visible to every "
                      f"user); default {DEFAULT_AMQP_URL}")
    amqp.add_argument("--amqp-url-file", type=Path, help="file holding the broker URL")
    amqp.add_argument("--queue", default="doj.orders", help="the DOJ queue to consume")
    amqp.add_argument("--no-declare", action="store_true",
                      help="do not declare the queue (it exists already)")
    files = p.add_argument_group("file")
    files.add_argument("--pickup", type=Path, help="directory the engine drops messages into")
    files.add_argument("--acks", type=Path, help="directory to drop acknowledgements into")
    faults = p.add_argument_group("faults")
    faults.add_argument("--seed", type=int, help="seed for rate-based faults (replayable)")
    for fault in Fault:
        faults.add_argument(f"--{fault.value}-next", type=int, default=0, metavar="N",
                            help=f"apply {fault.value} to the next N messages")
        faults.add_argument(f"--{fault.value}-rate", type=_fraction, default=0.0,
                            metavar="F", help=f"apply {fault.value} to a fraction F of messages")
    faults.add_argument("--ack-delay", type=float, default=0.0, metavar="SECONDS",
                        help="wait this long before each answer")
    faults.add_argument("--reject-order", action="append", default=[], metavar="KEY",
                        help="refuse every message about this order (ORI/order id)")
    faults.add_argument("--outage", type=_outage, metavar="AFTER,SECONDS",
                        help="go down AFTER seconds for SECONDS, then come back")
    faults.add_argument("--control-port", type=int, metavar="PORT",
                        help="serve the runtime control API (faults, down/up, stats) on "
                             "127.0.0.1:PORT (0 picks one), with a bearer token; see "
                             "docs/receiver.md")
    faults.add_argument("--control-token-file", type=Path, metavar="PATH",
                        help="the control API's token (default: a new random one, "
                             "written to the start line)")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.add_argument("--json", action="store_true", help="print the final totals as JSON")
    p.add_argument("--quiet", action="store_true",
                   help="do not print a line per message (only the totals)")
    p.set_defaults(func=_cmd_receiver)


def _fault_plan(args: argparse.Namespace) -> FaultPlan:
    plan = FaultPlan(seed=args.seed)
    for fault in Fault:
        attr = fault.value.replace("-", "_")
        plan.next(fault, getattr(args, f"{attr}_next"))
        plan.rate(fault, getattr(args, f"{attr}_rate"))
    plan.ack_delay = args.ack_delay
    for key in args.reject_order:
        plan.reject_order(key)
    return plan


def build_server(args: argparse.Namespace, receiver: Receiver) -> Any:
    """The server for ``--transport`` (not started); `SystemExit` with a message if misused."""
    if args.transport in ("http", "tcp"):
        from engine.receiver.http import HttpReceiverServer
        from engine.receiver.tcp import TcpReceiverServer

        tls = _server_tls(args)
        port = _DEFAULT_PORTS[args.transport] if args.port is None else args.port
        if args.transport == "http":
            return HttpReceiverServer(receiver, host=args.host, port=port, tls=tls,
                                      path=args.path)
        return TcpReceiverServer(receiver, host=args.host, port=port, tls=tls,
                                 max_frame_size=args.max_frame_size)
    if args.transport == "amqp":
        from engine.receiver.amqp import AmqpReceiver

        return AmqpReceiver(receiver, queue=args.queue, settings=_amqp_url(args),
                            declare=not args.no_declare)
    from engine.receiver.file import FileReceiver

    if not (args.pickup and args.acks):
        raise SystemExit("engine receiver: --transport file needs --pickup and --acks")
    return FileReceiver(receiver, pickup=args.pickup, acks=args.acks)


def _where(args: argparse.Namespace, server: Any) -> str:
    if args.transport in ("http", "tcp"):
        address: str = (server.url if args.transport == "http" else
                        f"tcp{'+tls' if server.tls else ''}://{server.host}:{server.port}")
        if server.tls is None:
            return f"{address} (PLAINTEXT: no TLS, for local tests only)"
        return address + (" (mutual TLS)" if server.tls.ca_file else " (TLS)")
    if args.transport == "amqp":
        return f"queue {args.queue}"
    return f"{args.pickup} (acks to {args.acks})"


def describe_outcome(mcn: str, transport: str, outcome: Outcome) -> str:
    """One line per message for people watching a conformance run (no message content)."""
    ack = outcome.ack
    if outcome.action == "fail":
        verdict = "FAILED (fault: transient error, not processed)"
    elif isinstance(ack, Accepted):
        verdict = f"ACCEPTED {ack.record_id}"
    elif isinstance(ack, Rejected):
        verdict = f"REJECTED {ack.code}: {ack.reason}"
    else:
        verdict = "?"
    notes = [f"fault {f.value}" for f in sorted(outcome.faults) if f is not Fault.FAIL]
    if outcome.duplicate:
        notes.insert(0, "duplicate")
    return f"{transport} {mcn} {verdict}" + (f" ({', '.join(notes)})" if notes else "")


def _print_outcome(mcn: str, transport: str, outcome: Outcome) -> None:
    print(describe_outcome(mcn, transport, outcome), flush=True)


def _token_note(args: argparse.Namespace, token: str) -> str:
    """The start line's word on the control token: the generated one (only this output
    shows it), or where the given one came from."""
    return (" token from --control-token-file" if args.control_token_file
            else f" token {token}")


def _control_token(args: argparse.Namespace) -> str:
    import secrets

    if args.control_token_file is None:
        return secrets.token_urlsafe(24)
    try:
        token = str(args.control_token_file.read_text(encoding="utf-8")).strip()
    except OSError as exc:
        raise SystemExit(f"engine receiver: cannot read --control-token-file "
                         f"({type(exc).__name__})") from None
    if len(token) < 16:
        raise SystemExit("engine receiver: the control token must be at least 16 characters")
    return token


def _cmd_receiver(args: argparse.Namespace) -> int:
    receiver = Receiver(format=args.format,
                        journal=Journal(args.journal, record_prefix=args.record_prefix),
                        faults=_fault_plan(args),
                        on_outcome=None if args.quiet else _print_outcome)
    server = build_server(args, receiver)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        try:
            server.up()
        except Exception as exc:
            print(f"engine receiver: cannot start: {exc.__class__.__name__}: {exc}",
                  file=sys.stderr)
            return 1
        control = None
        token = ""
        if args.control_port is not None:
            from engine.receiver.control import ControlServer

            token = _control_token(args)
            control = ControlServer(receiver, server, port=args.control_port,
                                    token=token).up()
        print(f"receiver: {args.transport} on {_where(args, server)}, format {args.format}, "
              f"journal {args.journal}"
              + (f", control {control.url}" if control else "")
              + (_token_note(args, token) if control else ""), flush=True)
        started = time.monotonic()
        outage_done = args.outage is None
        try:
            while not stop.wait(0.2):
                elapsed = time.monotonic() - started
                if args.duration is not None and elapsed >= args.duration:
                    break
                if not outage_done and elapsed >= args.outage[0]:
                    print(f"receiver: going down for {args.outage[1]}s", flush=True)
                    server.down()
                    if stop.wait(args.outage[1]):
                        break
                    server.up()
                    outage_done = True
                    print("receiver: back up", flush=True)
        except KeyboardInterrupt:
            pass
        if control is not None:
            control.down()
    finally:
        server.down()
        signal.signal(signal.SIGTERM, previous)
    stats = receiver.journal.stats()
    if args.json:
        print(json.dumps(stats, sort_keys=True))
    else:
        print("receiver totals: " + ", ".join(f"{k} {v}" for k, v in sorted(stats.items())))
    receiver.journal.close()
    return 0
