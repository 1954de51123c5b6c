"""How long the store keeps each table's rows, within the privacy policy's limits."""

from __future__ import annotations

from pydantic import Field, field_validator

from spur.settings.base import Group, days_at_most
from spur_sinks.tables import Retention

# Clause 3.4: actions are kept at most one year, then deleted automatically.
MAX_CUSTOMER_DATA_DAYS = 365
# Clause 3.1: web access logs are deleted after three months (92 days covers
# any three calendar months).
MAX_WEB_LOG_DAYS = 92
# The defaults are spur_sinks.tables.Retention's, the store's one statement of them.
_DEFAULT = Retention()


class RetentionSettings(Group):
    """``SPUR_*_RETENTION_DAYS`` of the store (Kafka's is the broker's: input_retention_days)."""

    actions_days: int = Field(default=_DEFAULT.actions, ge=1, alias="actions_retention_days")
    # Three months (clause 3.1).
    web_days: int = Field(default=_DEFAULT.web, ge=1, alias="web_retention_days")
    # Configurable (clause 3.3).
    forms_days: int = Field(default=_DEFAULT.forms, ge=1, alias="forms_retention_days")
    dead_letter_days: int = Field(
        default=_DEFAULT.dead_letter, ge=1, alias="dead_letter_retention_days"
    )
    # No customer data.
    capacity_days: int = Field(default=_DEFAULT.capacity, ge=1, alias="capacity_retention_days")

    @field_validator("actions_days", "forms_days", "dead_letter_days")
    @classmethod
    def _customer_data_at_most_a_year(cls, days: int) -> int:
        return days_at_most(
            days, MAX_CUSTOMER_DATA_DAYS, kept="customer data may be kept",
            rule="privacy policy 3.4",
        )  # fmt: skip

    @field_validator("web_days")
    @classmethod
    def _web_log_at_most_three_months(cls, days: int) -> int:
        return days_at_most(
            days, MAX_WEB_LOG_DAYS, kept="web access logs may be kept",
            rule="three months, privacy policy 3.1",
        )  # fmt: skip

    @property
    def tables(self) -> Retention:
        """The retention days of the store's tables (compiled into their TTLs)."""
        return Retention(
            actions=self.actions_days,
            web=self.web_days,
            forms=self.forms_days,
            dead_letter=self.dead_letter_days,
            capacity=self.capacity_days,
        )
