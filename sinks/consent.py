"""The consent ledger in the store (``consent_log``), as a consent source.

Implements :class:`spur_streams.steps.privacy.ConsentSource`: the
extended-processing decisions of some logins. Blocking; store errors are
retried (spur_sinks.writer).
"""

from __future__ import annotations

from collections.abc import Collection

from spur_sinks.store import PROBE, as_utc
from spur_sinks.writer import Retrying
from spur_streams.privacy import ConsentDecision, ConsentLedger


class StoreConsent:
    def __init__(self, store: Retrying) -> None:
        self._store = store

    def ledger(self, logins: Collection[str]) -> ConsentLedger:
        if not logins:
            return ConsentLedger({})
        # The logins travel as the probe table, not in the SQL text: a batch's
        # thousands of logins went past the server's max_query_size (256 KiB)
        # and the batch was refused for good (found by a test from outside).
        rows = self._store.query(
            f"SELECT login, ts, granted FROM {self._store.database}.consent_log FINAL "
            f"WHERE purpose = 'extended_processing' AND login IN (SELECT key FROM {PROBE})",
            sorted(logins),
        )
        decisions: dict[str, list[ConsentDecision]] = {}
        for row in rows:
            decisions.setdefault(row["login"], []).append(
                ConsentDecision(as_utc(row["ts"]), bool(row["granted"]))
            )
        return ConsentLedger(decisions)
