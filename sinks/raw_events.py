"""Raw rows in the store: one table per input stream, and the dead letters.

Implements :class:`spur_streams.steps.store_rows.RawEventsSink`. An empty batch runs
no statement. Blocking; store errors are retried (spur_sinks.writer).
"""

from __future__ import annotations

from collections.abc import Sequence

from spur_schemas.events import Action, Consent, FormSubmission, WebRequest
from spur_schemas.located import Located
from spur_schemas.messages import DeadLetter
from spur_sinks.actions import action_columns
from spur_sinks.columns import consent_columns, dead_letter_columns, form_columns, web_columns
from spur_sinks.json_columns import encoded
from spur_sinks.slices import EncodedColumns, joined
from spur_sinks.writer import Retrying


class StoreRawEvents:
    def __init__(self, store: Retrying) -> None:
        self._store = store

    def action_rows(self, items: Sequence[Located[Action]]) -> EncodedColumns:
        return encoded(action_columns(items))

    def store_actions(self, rows: Sequence[EncodedColumns]) -> None:
        self._store.insert("actions", joined(rows))

    def store_web(self, events: Sequence[WebRequest]) -> None:
        self._store.insert("web_requests", web_columns(events))

    def store_forms(self, events: Sequence[FormSubmission]) -> None:
        self._store.insert("form_submissions", form_columns(events))

    def store_consent(self, events: Sequence[Consent]) -> None:
        self._store.insert("consent_log", consent_columns(events))

    def store_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        self._store.insert("dead_letters", dead_letter_columns(letters))
