"""Recording actions and events: what an app server's code calls, without delivery.

``Recording`` turns calls into contract events (spur_schemas.events) and hands
each one to ``emit``; subclasses decide where it goes: :class:`Telemetry`
buffers and sends it to Kafka, the synchronous facade hands it to
Telemetry's loop, tests collect it. Kept apart from delivery so the rules
of recording (chains, status on an exception, contract checks) read in one
place and can be tested without a broker.

Chains: an action started inside another's block (also in tasks spawned
there) gets ``parent_action_id`` = the enclosing action's id, via contextvars.

Blocking: nothing here blocks. Raises :class:`ContractError` for a field
outside the contract, when the block starts (not when it ends, so a typo
never masks the app's own exception, and content never leaves the process).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any

import msgspec

from spur.client.ids import uuid7
from spur_schemas.events import Action, Consent, Event, FormSubmission, Profile, WebRequest
from spur_schemas.rejections import Rejection
from spur_schemas.validate import E

_current_action: contextvars.ContextVar[uuid.UUID | None] = contextvars.ContextVar(
    "spur_current_action", default=None
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ActionRecorder:
    """One action being recorded; set its byte counts and data fields in the block."""

    def __init__(self, emit: Callable[[Event], None], action: str, **fields: Any) -> None:
        self._emit = emit
        self._action = action
        self._fields = fields
        # The id is minted from the start's clock reading (the block's entry
        # resets the start, usually within the same millisecond): the store
        # keeps an id's time as its distance from the start (migration 0011).
        self._started_at = _now()
        self.action_id = uuid7(self._started_at)
        self.parent_action_id: uuid.UUID | None = None
        self.bytes_in = 0
        self.bytes_out = 0
        self.data_kind: str | None = fields.pop("data_kind", None)
        self.data_count: int | None = fields.pop("data_count", None)
        self.profile: Profile | None = fields.pop("profile", None)
        self._token: contextvars.Token[uuid.UUID | None] | None = None

    def __enter__(self) -> ActionRecorder:
        self._started_at = _now()
        self.parent_action_id = _current_action.get()
        self._token = _current_action.set(self.action_id)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        ended_at = _now()
        if self._token is not None:
            _current_action.reset(self._token)
        failed = exc_type is not None
        self._emit(
            Action(
                action_id=self.action_id,
                action=self._action,
                started_at=self._started_at,
                ended_at=ended_at,
                bytes_in=self.bytes_in,
                bytes_out=self.bytes_out,
                parent_action_id=self.parent_action_id,
                data_kind=self.data_kind,
                data_count=self.data_count,
                status="error" if failed else "ok",
                error_code=exc_type.__name__[:64] if exc_type is not None else None,
                profile=self.profile,
                **self._fields,
            )
        )

    async def __aenter__(self) -> ActionRecorder:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


class ContractError(ValueError):
    """The app asked for an event the contract refuses; ``rejection`` says why."""

    def __init__(self, rejection: Rejection) -> None:
        super().__init__(f"{rejection.reason}: {rejection.detail}")
        self.rejection = rejection


def _refuse_unknown(kind: type[msgspec.Struct], fields: dict[str, Any]) -> None:
    # Checked when the block starts, so a typo never masks the app's own
    # exception at the block's end, and content never leaves the process.
    unknown = sorted(set(fields) - set(kind.__struct_fields__))
    if unknown:
        raise ContractError(
            Rejection("unknown_field", f"field {unknown[0]!r} is not in the contract", unknown[0])
        )


def _build(kind: type[E], fields: dict[str, Any]) -> E:
    _refuse_unknown(kind, fields)
    return kind(**fields)


class Recording:
    """The recording API shared by :class:`Telemetry` and the synchronous facade."""

    server: str | None = None

    def emit(self, event: Event) -> None:
        raise NotImplementedError

    def action(
        self,
        action: str,
        *,
        customer_id: int,
        login: str,
        session_id: str,
        client_ip: str,
        **optional: Any,
    ) -> ActionRecorder:
        """Record one action for the duration of a ``with``/``async with`` block.

        On an exception the action is recorded with status ``error`` and the
        exception's type as ``error_code``; the exception propagates.
        """
        if self.server is not None:
            optional.setdefault("server", self.server)
        _refuse_unknown(Action, optional)
        return ActionRecorder(
            self.emit,
            action,
            customer_id=customer_id,
            login=login,
            session_id=session_id,
            client_ip=client_ip,
            **optional,
        )

    def web_request(self, **fields: Any) -> None:
        self.emit(_build(WebRequest, {"request_id": uuid7(), "ts": _now(), **fields}))

    def form_submission(self, **fields: Any) -> None:
        self.emit(_build(FormSubmission, {"submission_id": uuid7(), "ts": _now(), **fields}))

    def consent(self, **fields: Any) -> None:
        defaults = {"consent_id": uuid7(), "ts": _now(), "purpose": "extended_processing"}
        self.emit(_build(Consent, {**defaults, **fields}))
