"""The worker's batch as named steps, one module each, each with its contract.

Actions, in this order (spur_streams.batch runs them, the order written once):
validate -> erasure (drop erased subjects) -> dedup -> lateness (a metric)
-> privacy -> store (raw rows) -> windows (fold, rewrite, capacity) ->
publish -> commit. Web requests, forms and consent take one shared path
(raw_events): validate -> privacy or erasure -> store -> dead letters.

Steps are pure or talk to the store and the broker only through the small
interfaces (typing.Protocol) declared next to them; their ClickHouse
implementations live in sinks/, the wiring in spur.worker.batch.
"""
