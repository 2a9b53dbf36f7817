"""Delivery: claim due transmissions from the ledger and send them to their destination
(`transmitter`), retried, deadline-capped and behind a circuit breaker per destination.
The wires themselves are in `engine.transports`.

May import: acks (a synchronous answer goes to the correlator), observability hooks, the
ledger, transports, reliability, the formats and the top-level model, errors and config.
Not intake, the runner or the CLI.
"""
