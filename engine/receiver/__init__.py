"""The DOJ reference receiver: a real endpoint for every transport, used for tests and conformance.

It receives what the engine sends (AMQP, HTTP(S), TCP frames, file drop), validates each
message as the registry would (NIEM schema, CLETS layout), answers with a record id or a
reason, drops duplicates by message control number, journals everything, and can be told
to fail, delay, drop, double or garble its answers, or to go down and come back.
See docs/receiver.md.

`stand_ins` is its in-process stand-in for the core's fast tests. May import: the
formats, transports, `engine.canonical` and the value modules; not the engine's stages,
the runner or the CLI (it stands on the DOJ's side of the wire).
"""

from engine.receiver._sockets import ServerTls
from engine.receiver.amqp import AmqpReceiver
from engine.receiver.core import GARBAGE_ACK, Outcome, Receiver
from engine.receiver.faults import Fault, FaultPlan
from engine.receiver.file import FileReceiver
from engine.receiver.formats import (
    FORMATS,
    ReceiverFormat,
    Validated,
    ValidatorUnavailable,
    parse_json_ack,
    render_json_ack,
)
from engine.receiver.http import HttpReceiverServer
from engine.receiver.journal import Journal, JournalEntry
from engine.receiver.tcp import TcpReceiverServer

__all__ = [
    "FORMATS",
    "GARBAGE_ACK",
    "AmqpReceiver",
    "Fault",
    "FaultPlan",
    "FileReceiver",
    "HttpReceiverServer",
    "Journal",
    "JournalEntry",
    "Outcome",
    "Receiver",
    "ReceiverFormat",
    "ServerTls",
    "TcpReceiverServer",
    "Validated",
    "ValidatorUnavailable",
    "parse_json_ack",
    "render_json_ack",
]
