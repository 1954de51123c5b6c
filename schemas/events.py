"""The event contract of docs/events.md as typed structs.

Each struct decodes and validates in one step (msgspec): a field that is not
listed is an error, so content can never slip into storage through an extra
field. Rules msgspec cannot state (an explicit UTC offset, ``ended_at >=
started_at``, IP syntax) are checked in :mod:`spur_schemas.validate`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

from spur_schemas import patterns

MAX_EVENT_BYTES = 64 * 1024

CustomerId = Annotated[int, msgspec.Meta(ge=1, le=2**32 - 1)]
ByteCount = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
Count = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
ACTION_NAME_PATTERN = patterns.ACTION_NAME
ACTION_NAME_CHECK = patterns.checked_by_python(ACTION_NAME_PATTERN)
# Decoding checks the name's length; its pattern is checked after decoding
# (spur_schemas.action_names), once per distinct name the process saw:
# msgspec runs Python's re per message (0.7 µs of the 2.5 a decode took).
# The schema for producers states the pattern all the same.
ActionName = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=64, extra_json_schema={"pattern": ACTION_NAME_PATTERN}),
]
# The same with the pattern enforced by msgspec: decodes a rejected message
# again to word its rejection exactly as the contract's decoder would.
StrictActionName = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=ACTION_NAME_CHECK,
    ),
]
Login = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
SessionId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Short = Annotated[str, msgspec.Meta(max_length=64)]
IpText = Annotated[
    str,
    msgspec.Meta(
        min_length=2,
        max_length=45,
        extra_json_schema={"anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]},
    ),
]
# RFC 3339 with an explicit offset: a naive timestamp is ambiguous, so refused.
# The limits relative to the arrival time cannot be said in JSON Schema; the
# description tells producers in other languages (spur_schemas.validate enforces them).
Timestamp = Annotated[
    dt.datetime,
    msgspec.Meta(
        tz=True,
        description=(
            "RFC 3339 with an explicit offset. Rejected when later than its arrival plus "
            "the allowed clock skew (future_timestamp, default 5 minutes) or older than "
            "its table's retention (beyond_retention; by default actions 365 days, web "
            "requests and forms 92, consent unbounded)."
        ),
    ),
]
HttpStatus = Annotated[int, msgspec.Meta(ge=100, le=599)]


class _Contract(
    msgspec.Struct, forbid_unknown_fields=True, frozen=True, omit_defaults=True, gc=False
):
    """Options shared by every contract struct.

    ``gc=False``: events hold only scalars, so they can never be part of a
    reference cycle; untracked, the ~100,000 alive in a batch do not make
    every garbage-collector pass slower.
    """


class Profile(_Contract, frozen=True):
    """Profile fields allowed only under consent for extended processing (clause 3.6)."""

    locale: Short | None = None
    timezone: Short | None = None
    company_size: Short | None = None
    industry: Short | None = None
    role: Short | None = None


class Action(_Contract, frozen=True):
    """One server-side action (clause 3.4); topic ``spur.actions.v1``, key = its action id."""

    action_id: uuid.UUID
    action: ActionName
    customer_id: CustomerId
    login: Login
    session_id: SessionId
    started_at: Timestamp
    ended_at: Timestamp
    bytes_in: ByteCount
    bytes_out: ByteCount
    client_ip: IpText
    parent_action_id: uuid.UUID | None = None
    data_kind: Short | None = None
    data_count: Count | None = None
    status: Literal["ok", "error"] = "ok"
    error_code: Short | None = None
    server: Short | None = None
    profile: Profile | None = None
    schema: Literal["action/1"] | None = None


class WebRequest(_Contract, frozen=True):
    """One web access log line (clause 3.1); topic ``spur.web.v1``."""

    request_id: uuid.UUID
    ts: Timestamp
    path: Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
    bytes_sent: ByteCount
    user_agent: Annotated[str, msgspec.Meta(max_length=512)]
    client_ip: IpText
    host: Annotated[str, msgspec.Meta(max_length=255)] | None = None
    status: HttpStatus | None = None
    schema: Literal["web_request/1"] | None = None


class FormSubmission(_Contract, frozen=True):
    """One form submission's metadata (clause 3.3); topic ``spur.forms.v1``."""

    submission_id: uuid.UUID
    ts: Timestamp
    form: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    client_ip: IpText
    user_agent: Annotated[str, msgspec.Meta(max_length=512)]
    screen_resolution: Annotated[
        str, msgspec.Meta(pattern=patterns.checked_by_python(patterns.SCREEN_RESOLUTION))
    ]
    isp: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    schema: Literal["form_submission/1"] | None = None


class Consent(_Contract, frozen=True):
    """One consent decision (clause 3.6); topic ``spur.consent.v1``, key = login."""

    consent_id: uuid.UUID
    ts: Timestamp
    customer_id: CustomerId
    login: Login
    purpose: Literal["extended_processing"]
    granted: bool
    source: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    schema: Literal["consent/1"] | None = None


Event = Action | WebRequest | FormSubmission | Consent
