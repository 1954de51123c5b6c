"""The configuration files of the local Kafka broker: server.properties, log4j.

Pure text from a few values (ports, data directory, credentials, the
optional SASL_SSL listener), kept apart from starting the process
(spur.dev.broker) so that what the broker is told can be read in one place:
a single KRaft node that is broker and controller, replication 1, no topic
auto-creation, and no listener that answers without a password
(the reasons of the less obvious settings stand beside them).

Authentication (docs/security.md, "The dev broker"): loopback is shared
with every user of the host, so clients and the broker itself authenticate
with SCRAM-SHA-512 on the SASL_PLAINTEXT listener (users created when the
storage is formatted), and the controller listener, on which anyone could
otherwise create and delete topics (measured; it takes other admin requests
too), takes SASL PLAIN with a password of its own: KRaft cannot use SCRAM
there (SCRAM users live in the metadata the controller serves).

Blocking: nothing. Raises nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from spur.local_state import BrokerCredentials
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


# The broker's own users; spur's processes log in as BrokerCredentials.username.
BROKER_USER = "spur-broker"
CONTROLLER_USER = "controller"
SCRAM = "org.apache.kafka.common.security.scram.ScramLoginModule required"
PLAIN = "org.apache.kafka.common.security.plain.PlainLoginModule required"


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
    port: int,
    controller_port: int,
    data_dir: Path,
    auth: BrokerCredentials | None,
    secure: SecureListener | None = None,
) -> str:
    """``server.properties`` of a single-node broker on 127.0.0.1.

    ``auth`` None: the listeners take anyone on loopback (only the
    benchmark's comparison of the cost of authentication asks for that).
    """
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
        # As the offsets topic: its 50 default partitions are made when a first
        # transactional producer starts, slow on a busy single-node broker.
        "transaction.state.log.num.partitions": "4",
        "group.initial.rebalance.delay.ms": "0",
        # The 128 MiB default would be a quarter of a small heap.
        "log.cleaner.dedupe.buffer.size": "16777216",
        # spur creates its topics itself with explicit configs (topics.py);
        # a typo'd topic name must fail, not silently appear.
        "auto.create.topics.enable": "false",
    }
    if auth is not None:
        settings.update(authenticated_listeners(port, controller_port, auth))
    if secure is not None:
        sport = secure.port
        settings["listeners"] += f",SASL_SSL://127.0.0.1:{sport}"
        settings["advertised.listeners"] += f",SASL_SSL://127.0.0.1:{sport}"
        settings["listener.security.protocol.map"] += ",SASL_SSL:SASL_SSL"
        prefix = "listener.name.sasl_ssl"
        settings[f"{prefix}.sasl.enabled.mechanisms"] = "SCRAM-SHA-512"
        settings[f"{prefix}.scram-sha-512.sasl.jaas.config"] = f"{SCRAM};"
        settings[f"{prefix}.ssl.keystore.type"] = "PEM"
        settings[f"{prefix}.ssl.keystore.location"] = str(secure.pem)
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def authenticated_listeners(
    port: int, controller_port: int, auth: BrokerCredentials
) -> dict[str, str]:
    """The listener settings that make every port ask for a password."""
    client = "listener.name.sasl_plaintext"
    controller = "listener.name.controller"
    return {
        "listeners": f"SASL_PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"SASL_PLAINTEXT://127.0.0.1:{port}",
        "inter.broker.listener.name": "SASL_PLAINTEXT",
        "listener.security.protocol.map": "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
        "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
        "sasl.mechanism.controller.protocol": "PLAIN",
        f"{client}.sasl.enabled.mechanisms": "SCRAM-SHA-512",
        # The broker's own login, as a client of its inter-broker listener.
        f"{client}.scram-sha-512.sasl.jaas.config": (
            f'{SCRAM} username="{BROKER_USER}" password="{auth.broker_password}";'
        ),
        f"{controller}.sasl.enabled.mechanisms": "PLAIN",
        # Both sides of the controller listener: the broker logs in with
        # username/password, the controller accepts user_<name>.
        f"{controller}.plain.sasl.jaas.config": (
            f'{PLAIN} username="{CONTROLLER_USER}" password="{auth.controller_password}" '
            f'user_{CONTROLLER_USER}="{auth.controller_password}";'
        ),
    }


def scram_users(auth: BrokerCredentials) -> dict[str, str]:
    """The SCRAM users to create when the storage is formatted: spur's and the broker's."""
    return {auth.username: auth.password, BROKER_USER: auth.broker_password}
