"""Intake: a court's message in, recorded in the ledger. The pipeline decodes, checks,
routes and renders (`pipeline`, in worker processes by `prepare_pool`); the AMQP queue
(`amqp`, its commit-then-ack rules in `batch`) and the spool directory (`spool`) feed it;
`dead_letters` keeps what the ledger refused.

May import: the ledger, observability hooks, reliability, the law, the canonical codec,
transports' AMQP settings and the top-level model, errors and config. Not delivery, acks,
the runner or the CLI.
"""
