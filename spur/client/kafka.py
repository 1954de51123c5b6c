"""How to reach the Kafka cluster: address, and credentials for SASL_SSL.

Clause 4 of the privacy policy: encrypted transport and unique credentials.
With ``SPUR_KAFKA_SECURITY_PROTOCOL=SASL_SSL`` every spur client (producer,
consumer, admin, the Faust worker) authenticates with SCRAM-SHA-512 over TLS,
verifying the broker against ``SPUR_KAFKA_SSL_CAFILE``. The password stays a
SecretStr until the moment a client is built, and is never part of a
message or ``repr``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from aiokafka.helpers import create_ssl_context
from pydantic import SecretStr

SecurityProtocol = Literal["PLAINTEXT", "SASL_SSL"]
SASL_MECHANISM = "SCRAM-SHA-512"


@dataclass(frozen=True)
class KafkaTarget:
    bootstrap: str
    security_protocol: SecurityProtocol = "PLAINTEXT"
    username: str | None = None
    password: SecretStr | None = None
    cafile: Path | None = None

    def __str__(self) -> str:
        return self.bootstrap

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka's producer, consumer and admin client."""
        kwargs: dict[str, Any] = {"bootstrap_servers": self.bootstrap}
        if self.security_protocol == "SASL_SSL":
            kwargs.update(
                security_protocol="SASL_SSL",
                sasl_mechanism=SASL_MECHANISM,
                sasl_plain_username=self.username,
                sasl_plain_password=self.password.get_secret_value() if self.password else None,
                ssl_context=create_ssl_context(cafile=str(self.cafile) if self.cafile else None),
            )
        return kwargs


def as_target(address: str | KafkaTarget) -> KafkaTarget:
    """A plain ``host:port`` means PLAINTEXT (local broker, tests)."""
    return address if isinstance(address, KafkaTarget) else KafkaTarget(address)
