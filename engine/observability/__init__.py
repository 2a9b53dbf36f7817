"""Observability around the flow: the hooks the stages call (`hooks`), Prometheus metrics
(`metrics`) fed by them (`core_metrics`), the backlog and deadline-risk snapshot
(`backlog`) and structured logging without personal data (`logging`).

May import: the ledger (read side and result types), reliability (breaker states), the law
(deadline risk), the model and errors. Not a stage (intake, delivery, acks), the runner or
the CLI: the stages import the hooks, never the other way round.
"""
