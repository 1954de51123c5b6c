"""What spur's commands do to the store, shared by the CLI, the demo and the dashboards.

Reads (billing months and periods, reconciliation, traces, status, dead
letters, saved queries, a subject's export) and the changes some commands
make (``close_month``, reconcile's ``repair``, a subject's ``erase``), on top
of the store's readers and writers (spur_sinks). Rendering (tables, CSV,
JSON) stays with the callers; SQL stays in spur_sinks.
"""
