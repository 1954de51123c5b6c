"""Billing: the time zone its months are cut in; how reconcile tells a batch in flight."""

from __future__ import annotations

from pydantic import Field

from spur.settings.base import Group


class BillingSettings(Group):
    """``SPUR_BILLING_TIMEZONE``, ``SPUR_RECONCILE_SETTLE_SECONDS``."""

    # An IANA name; the months of `spur billing` when --tz is not given.
    timezone: str = Field(default="UTC", alias="billing_timezone")
    # `spur reconcile` leaves out a window folded into within this long: a batch
    # in flight (its rewrite, or a stopped worker's batch read again, comes
    # within it). Longer than a session timeout and a batch.
    reconcile_settle_seconds: int = Field(default=60, ge=0, le=86_400)
