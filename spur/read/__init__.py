"""Read models shared by the CLI, the demo and the dashboards.

Pure shaping on top of the store's readers (sinks): billing months and
periods, reconciliation, traces, status, subjects, dead letters, saved
queries. Rendering (tables, CSV, JSON) stays with the callers.
"""
