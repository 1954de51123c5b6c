"""How to reach the Kafka cluster: address, and credentials for SASL.

Clause 4 of the privacy policy: encrypted transport and unique credentials.
With ``SPUR_KAFKA_SECURITY_PROTOCOL=SASL_SSL`` every spur client (producer,
consumer, admin, the Faust worker) authenticates with SCRAM-SHA-512 over TLS,
verifying the broker against ``SPUR_KAFKA_SSL_CAFILE``. ``SASL_PLAINTEXT``
is the same login without TLS: the local dev broker's, on loopback only
(docs/security.md, "The dev broker"). The password stays a
secret (:class:`Secret`, or the worker settings' pydantic ``SecretStr``: both
answer ``get_secret_value()``) until the moment a client is built, and is
never part of a message or ``repr``. No pydantic here: an app server installs
the client without the worker's dependencies.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from aiokafka.helpers import create_ssl_context

SecurityProtocol = Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"]
SASL_MECHANISM = "SCRAM-SHA-512"


class SecretValue(Protocol):
    """A credential that shows itself only when asked (pydantic's SecretStr is one)."""

    def get_secret_value(self) -> str: ...


@dataclass(frozen=True)
class Secret:
    """A password for :class:`KafkaTarget` that never appears in a ``repr`` or ``str``."""

    value: str = field(repr=False)

    def get_secret_value(self) -> str:
        return self.value

    def __str__(self) -> str:
        return "**********"

    def __repr__(self) -> str:
        return "Secret('**********')"


@dataclass(frozen=True)
class KafkaTarget:
    bootstrap: str
    security_protocol: SecurityProtocol = "PLAINTEXT"
    username: str | None = None
    password: SecretValue | None = None
    cafile: Path | None = None

    def __str__(self) -> str:
        return self.bootstrap

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's producer, consumer and admin client."""
        kwargs: dict[str, Any] = {"bootstrap_servers": self.bootstrap}
        if self.security_protocol != "PLAINTEXT":
            kwargs.update(
                security_protocol=self.security_protocol,
                sasl_mechanism=SASL_MECHANISM,
                sasl_plain_username=self.username,
                sasl_plain_password=self.password.get_secret_value() if self.password else None,
            )
        if self.security_protocol == "SASL_SSL":
            kwargs["ssl_context"] = self.ssl_context()
        return kwargs

    def ssl_context(self) -> ssl.SSLContext:
        context: ssl.SSLContext = create_ssl_context(
            cafile=str(self.cafile) if self.cafile else None
        )
        return context


def as_target(address: str | KafkaTarget) -> KafkaTarget:
    """A plain ``host:port`` means PLAINTEXT (local broker, tests)."""
    return address if isinstance(address, KafkaTarget) else KafkaTarget(address)
