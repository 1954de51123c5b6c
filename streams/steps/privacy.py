"""Step ``privacy``: the privacy rules applied before anything is stored.

Input: valid events of one stream, that stream's IP policy (a plain value:
``full``, ``truncate`` or ``drop``) and, for actions with a profile, a
:class:`ConsentSource`.
Output: the same events with the client IP shortened or dropped by policy
(clause 5), web paths without query string or fragment (clause 3.1), and an
action's profile dropped unless the login's latest consent to extended
processing at the action's time is granted (clause 3.6; counted in
``DROPPED_PROFILES``, never rejected).
Guarantees: nothing reaches a store call before these rules ran on it.
Failure: the rules are pure (spur_streams.privacy) and never raise; the consent
lookup blocks and retries inside until the store answers.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Protocol

import msgspec

from spur_schemas.events import Action, FormSubmission, WebRequest
from spur_schemas.located import Located
from spur_schemas.metrics import DROPPED_PROFILES, Metrics
from spur_streams.privacy import ConsentLedger, IpPolicy, apply_ip_policy, strip_query


class ConsentSource(Protocol):
    """The consent ledger's extended-processing decisions (spur_sinks.consent)."""

    def ledger(self, logins: Collection[str]) -> ConsentLedger:
        """The decisions of ``logins`` (blocks; no store call for no logins)."""


def private_actions(
    items: list[Located[Action]], policy: IpPolicy, consent: ConsentSource, metrics: Metrics
) -> list[Located[Action]]:
    """``items`` with the IP policy and the consent rule applied (``items`` if nothing changes)."""
    with_profile = [item for item in items if item.event.profile is not None]
    ledger = consent.ledger({item.event.login for item in with_profile})
    if policy == "full" and not with_profile:
        return items
    kept = []
    dropped_profiles = 0
    for item in items:
        event = item.event
        changes: dict[str, Any] = {}
        if policy != "full":
            changes["client_ip"] = apply_ip_policy(event.client_ip, policy)
        if event.profile is not None and not ledger.granted_at(event.login, event.started_at):
            changes["profile"] = None
            dropped_profiles += 1
        if changes:
            event = msgspec.structs.replace(event, **changes)
            kept.append(Located(event, item.partition, item.offset))
        else:
            kept.append(item)
    metrics.inc(DROPPED_PROFILES, dropped_profiles)
    return kept


def private_web(items: Sequence[Located[WebRequest]], policy: IpPolicy) -> list[WebRequest]:
    return [
        msgspec.structs.replace(
            item.event,
            path=strip_query(item.event.path),
            client_ip=apply_ip_policy(item.event.client_ip, policy),
        )
        for item in items
    ]


def private_forms(
    items: Sequence[Located[FormSubmission]], policy: IpPolicy
) -> list[FormSubmission]:
    return [
        msgspec.structs.replace(item.event, client_ip=apply_ip_policy(item.event.client_ip, policy))
        for item in items
    ]
