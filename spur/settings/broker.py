"""Kafka: where the broker is, how spur logs in, the topics spur creates, the workers' group."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from spur.settings.base import Group, days_at_most

# Kafka holds the same personal data as the store while it retains messages
# (docs/topics.md#kafka-topics-keys-and-message-formats, its retention setting),
# so its retention is bounded like the store's.
MAX_INPUT_RETENTION_DAYS = 30


class BrokerSettings(Group):
    """``SPUR_KAFKA_*``, ``SPUR_CONSUMER_GROUP``, ``SPUR_TOPIC_*`` and the topics' retention."""

    # Unset means: the broker of `spur dev up` in this directory.
    bootstrap: str | None = Field(default=None, alias="kafka_bootstrap")
    security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", alias="kafka_security_protocol"
    )
    sasl_username: str | None = Field(default=None, alias="kafka_sasl_username")
    sasl_password: SecretStr | None = Field(default=None, alias="kafka_sasl_password")
    # The CA that signed the brokers' certificates.
    ssl_cafile: Path | None = Field(default=None, alias="kafka_ssl_cafile")
    # The version of the `spur dev up` broker.
    version: str = Field(default="3.9.2", alias="kafka_version")
    consumer_group: str = Field(default="spur", min_length=1)
    topic_partitions: int = Field(default=4, ge=1, le=1024)
    topic_replication: int = Field(default=1, ge=1, le=16)
    input_retention_days: int = Field(default=7, ge=1)

    @model_validator(mode="after")
    def _credentials_with_sasl(self) -> BrokerSettings:
        if self.security_protocol != "PLAINTEXT" and not (
            self.sasl_username and self.sasl_password
        ):
            raise ValueError(
                f"SPUR_KAFKA_SECURITY_PROTOCOL={self.security_protocol} needs "
                "SPUR_KAFKA_SASL_USERNAME and SPUR_KAFKA_SASL_PASSWORD"
            )
        return self

    @field_validator("input_retention_days")
    @classmethod
    def _retention_bounded(cls, days: int) -> int:
        return days_at_most(
            days, MAX_INPUT_RETENTION_DAYS, kept="input topics may keep personal data",
            rule="privacy policy",
        )  # fmt: skip
