"""Billing: the time zone its months are cut in."""

from __future__ import annotations

from pydantic import Field

from spur.settings.base import Group


class BillingSettings(Group):
    """``SPUR_BILLING_TIMEZONE``."""

    # An IANA name; the months of `spur billing` when --tz is not given.
    timezone: str = Field(default="UTC", alias="billing_timezone")
