"""What the local broker is told, and how its login reaches spur's processes (no broker)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from spur.broker import kafka_target
from spur.client.kafka import KafkaTarget, Secret
from spur.dev.broker_config import server_properties
from spur.local_state import BrokerCredentials, new_broker_credentials, read_broker_credentials
from spur.settings import Settings
from spur.worker.launch import kafka_env

LOGIN = BrokerCredentials("spur", "client-pw", "broker-pw", "controller-pw")


def properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines())


def test_every_listener_asks_for_a_password(tmp_path: Path) -> None:
    told = properties(server_properties(9092, 9093, tmp_path, LOGIN))
    protocols = dict(pair.split(":") for pair in told["listener.security.protocol.map"].split(","))
    names = [listener.split("://")[0] for listener in told["listeners"].split(",")]
    assert names == ["SASL_PLAINTEXT", "CONTROLLER"]
    assert all(protocols[name].startswith("SASL_") for name in names), protocols
    assert told["listener.name.sasl_plaintext.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert told["listener.name.controller.sasl.enabled.mechanisms"] == "PLAIN"
    assert told["inter.broker.listener.name"] == "SASL_PLAINTEXT"
    # The clients' password is the SCRAM user's (made at format time), in no file the broker reads.
    assert "client-pw" not in "".join(told.values())


def test_without_a_login_the_broker_is_open(tmp_path: Path) -> None:
    """Only the benchmark's comparison asks for this."""
    told = properties(server_properties(9092, 9093, tmp_path, None))
    assert told["listener.security.protocol.map"] == "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"


def test_credentials_are_made_once_and_private(tmp_path: Path) -> None:
    assert read_broker_credentials(tmp_path / "data") is None
    made = new_broker_credentials(tmp_path / "data")
    assert read_broker_credentials(tmp_path / "data") == made
    assert (tmp_path / "data" / "credentials.json").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "data").stat().st_mode & 0o777 == 0o700
    assert len({made.password, made.broker_password, made.controller_password}) == 3
    assert made.password not in repr(made)


def test_a_launched_process_logs_in_as_its_launcher(monkeypatch: pytest.MonkeyPatch) -> None:
    target = LOGIN.target("127.0.0.1:9092")
    for name, value in kafka_env(target).items():
        monkeypatch.setenv(name, value)
    seen = kafka_target(Settings())
    assert (seen.bootstrap, seen.security_protocol, seen.username) == (
        "127.0.0.1:9092",
        "SASL_PLAINTEXT",
        "spur",
    )
    assert seen.password is not None
    assert seen.password.get_secret_value() == "client-pw"
    assert kafka_env("127.0.0.1:9092")["SPUR_KAFKA_SECURITY_PROTOCOL"] == "PLAINTEXT"


def test_sasl_plaintext_needs_credentials() -> None:
    with pytest.raises(ValidationError, match="SASL_PLAINTEXT needs SPUR_KAFKA_SASL_USERNAME"):
        Settings(kafka_security_protocol="SASL_PLAINTEXT")


def test_sasl_plaintext_sends_the_login_without_tls() -> None:
    access = KafkaTarget("b:1", "SASL_PLAINTEXT", "spur", Secret("pw")).client_kwargs()
    assert access["security_protocol"] == "SASL_PLAINTEXT"
    assert access["sasl_mechanism"] == "SCRAM-SHA-512"
    assert access["sasl_plain_password"] == "pw"
    assert "ssl_context" not in access
