"""The configuration files of the local Kafka broker: server.properties, log4j.

Pure text from a few values (ports, data directory, the optional SASL_SSL
listener), kept apart from starting the process (spur.dev.broker) so that
what the broker is told can be read in one place: a single KRaft node that
is broker and controller, replication 1, no topic auto-creation
(the reasons of the less obvious settings stand beside them).

Blocking: nothing. Raises nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from spur.processes import free_port

LOG4J = """\
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File={log}
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
"""


@dataclass(frozen=True)
class SecureListener:
    """A SASL_SSL listener: SCRAM-SHA-512 users over TLS.

    ``pem`` holds the broker's PKCS#8 key, its certificate and the CA, in one
    file (Kafka's PEM keystore, no keystore password). ``users`` maps names to
    passwords; they are created when the storage is formatted.
    """

    pem: Path
    users: dict[str, str]
    port: int = field(default_factory=free_port)


def server_properties(
    port: int, controller_port: int, data_dir: Path, secure: SecureListener | None
) -> str:
    """``server.properties`` of a single-node broker on 127.0.0.1."""
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir / "logs"),
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "4",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        # The 128 MiB default would be a quarter of a small heap.
        "log.cleaner.dedupe.buffer.size": "16777216",
        # spur creates its topics itself with explicit configs (topics.py);
        # a typo'd topic name must fail, not silently appear.
        "auto.create.topics.enable": "false",
    }
    if secure is not None:
        sport = secure.port
        settings["listeners"] += f",SASL_SSL://127.0.0.1:{sport}"
        settings["advertised.listeners"] += f",SASL_SSL://127.0.0.1:{sport}"
        settings["listener.security.protocol.map"] += ",SASL_SSL:SASL_SSL"
        settings["sasl.enabled.mechanisms"] = "SCRAM-SHA-512"
        prefix = "listener.name.sasl_ssl"
        settings[f"{prefix}.scram-sha-512.sasl.jaas.config"] = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        )
        settings[f"{prefix}.ssl.keystore.type"] = "PEM"
        settings[f"{prefix}.ssl.keystore.location"] = str(secure.pem)
    return "".join(f"{key}={value}\n" for key, value in settings.items())
