"""How the engine waits and gives up: retry policies (`retry`: tenacity in process, durable
backoff in the ledger, deadline caps) and the per-destination circuit breaker (`breaker`).
Shared by intake, delivery and acks; the config names these policies.

May import: the standard library and tenacity only (no other `engine` module).
"""
