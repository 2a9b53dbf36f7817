"""Acknowledgements: the DOJ's answers back into the ledger. `consumers` read them (an AMQP
reply queue, a file inbox); `correlator` matches each to its transmission by MCN and
applies it (ACKED with the record id, REJECTED, or a retry). The answer's value types are
`engine.ack_types`, which the formats produce.

May import: observability hooks, the ledger, reliability, `engine.ack_types`, errors.
Not intake, delivery, the runner or the CLI.
"""
