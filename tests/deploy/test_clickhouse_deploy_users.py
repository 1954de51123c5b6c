"""deploy/clickhouse/users.d creates spur's roles itself, at every start: no
init script (compose's docker-entrypoint-initdb.d ran only on a first start,
as the `default` user that file removes, over the plaintext port config.d
removes). The file is loaded into a real ClickHouse engine (the chdb engine
serving the native protocol, as spur.dev.local_store does) and its accounts used."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from clickhouse_driver import Client
from clickhouse_driver.errors import Error as DriverError
from clickhouse_driver.errors import ServerException

from spur.processes import free_port, stop_pid
from spur.settings import parse_store_url
from spur_sinks.store import ServerStore
from spur_sinks.store_errors import ACCESS_DENIED
from tests.deploy.demo_data import load_demo_data
from tests.deploy.grafana_plugin import ROOT, query_settings

USERS_XML = ROOT / "deploy" / "clickhouse" / "users.d" / "spur.xml"
PASSWORDS = {
    user: f"{user}-test-password"
    for user in ("spur_admin", "spur_writer", "billing", "ops", "engineer")
}

SETTING_CONSTRAINT_VIOLATION = 452

# chdb's serving call, as in spur.dev.local_store (spur.dev.store_server): imported
# before moving into the directory whose config.xml it then serves.
_SERVE = textwrap.dedent(
    """
    import importlib, os, sys
    engine = importlib.import_module("chdb._chdb")
    os.chdir(sys.argv[1])
    engine.query(
        "SYSTEM START LISTEN TCP; SELECT sleepEachRow(1) FROM numbers(1000000000000) "
        "SETTINGS max_block_size = 1 FORMAT Null",
        "TabSeparated", path=os.path.join(sys.argv[1], "data"),
    )
    """
)


def deploy_users_for_the_engine() -> str:
    """users.d/spur.xml as deployed, but for its `default` removal: chdb's own
    serving call runs as `default` (a server needs no such account)."""
    root = ET.parse(USERS_XML).getroot()
    users = root.find("users")
    assert users is not None
    for default in users.findall("default"):
        users.remove(default)
    return ET.tostring(root, encoding="unicode")


@pytest.fixture(scope="module")
def deploy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    directory = tmp_path_factory.mktemp("deploy-clickhouse")
    port = free_port()
    (directory / "config.xml").write_text(
        "<clickhouse><listen_host>127.0.0.1</listen_host>"
        f"<tcp_port>{port}</tcp_port><users_config>users.xml</users_config>"
        "<logger><level>warning</level><console>1</console></logger>"
        "<access_control_improvements><settings_constraints_replace_previous>true"
        "</settings_constraints_replace_previous></access_control_improvements></clickhouse>"
    )
    # The server's own users.xml: the default profile and quota, and `default`
    # on loopback for the serving call; users.d/ is merged into it.
    (directory / "users.xml").write_text(
        "<clickhouse><profiles><default/></profiles><quotas><default/></quotas><users>"
        "<default><password></password><networks><ip>127.0.0.1</ip></networks>"
        "<profile>default</profile><quota>default</quota></default></users></clickhouse>"
    )
    (directory / "users.d").mkdir()
    (directory / "users.d" / "spur.xml").write_text(deploy_users_for_the_engine())
    (directory / "data").mkdir()
    env = {**os.environ, **{f"SPUR_CH_{u.removeprefix('spur_').upper()}_PASSWORD": p
                           for u, p in PASSWORDS.items()}}  # fmt: skip
    log = (directory / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVE, str(directory)],
        cwd=tmp_path_factory.getbasetemp(), env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (directory / "server.log").read_text()[-3000:]
            try:
                account(port, "spur_admin").execute("SELECT 1")
                break
            except (OSError, EOFError, DriverError):  # not listening yet
                assert time.monotonic() < deadline, (directory / "server.log").read_text()[-3000:]
                time.sleep(0.2)
        yield port
    finally:
        stop_pid(server.pid, timeout=10, wait=server.wait)
        log.close()


def account(port: int, user: str) -> Client:
    return Client(host="127.0.0.1", port=port, user=user, password=PASSWORDS[user])


def refused(client: Client, sql: str, **settings: Any) -> int | None:
    try:
        client.execute(sql, settings=settings)
    except ServerException as exc:
        return int(exc.code)
    return None


def test_compose_runs_no_init_script() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    volumes = compose["services"]["clickhouse"]["volumes"]
    assert not [v for v in volumes if "docker-entrypoint-initdb.d" in v]
    assert not list((ROOT / "deploy" / "clickhouse").glob("*.sql"))


def test_every_role_a_user_is_granted_is_defined_with_the_users() -> None:
    root = ET.parse(USERS_XML).getroot()
    defined = {role.tag for role in root.iterfind("roles/*")}
    granted = {
        (query.text or "").removeprefix("GRANT ").strip()
        for query in root.iterfind("users/*/grants/query")
    }
    assert granted == {"spur_writer_role", "billing_role", "ops_role", "engineer_role"}
    assert granted == defined


def test_the_server_has_the_roles_and_the_users_have_theirs(deploy_server: int) -> None:
    admin = account(deploy_server, "spur_admin")
    roles = {name for (name,) in admin.execute("SELECT name FROM system.roles")}
    assert roles == {"spur_writer_role", "billing_role", "ops_role", "engineer_role"}
    held = dict(admin.execute("SELECT user_name, granted_role_name FROM system.role_grants"))
    assert held == {
        "spur_writer": "spur_writer_role", "billing": "billing_role", "ops": "ops_role",
        "engineer": "engineer_role",
    }  # fmt: skip


def test_the_accounts_work_as_their_roles_say(deploy_server: int) -> None:
    url = f"clickhouse://spur_writer:{PASSWORDS['spur_writer']}@127.0.0.1:{deploy_server}/spur"
    writer = ServerStore(parse_store_url(url), 30.0)
    try:
        writer.execute("CREATE DATABASE IF NOT EXISTS spur")
        load_demo_data(writer)  # migrations, then a batch as the pipeline writes it
    finally:
        writer.close()
    ops = account(deploy_server, "ops")
    grafana = query_settings()
    for table in ("usage_hourly", "capacity_minutely", "dead_letters"):
        ((rows,),) = ops.execute(f"SELECT count() FROM spur.{table}", settings=grafana)
        assert rows > 0, table
    for table in ("actions", "web_requests", "form_submissions", "billing_periods"):
        assert refused(ops, f"SELECT count() FROM spur.{table}") == ACCESS_DENIED, table
    assert refused(ops, "SELECT 1", max_execution_time=61) == SETTING_CONSTRAINT_VIOLATION
    billing = account(deploy_server, "billing")
    assert refused(billing, "SELECT count() FROM spur.actions") == ACCESS_DENIED
    assert refused(billing, "SELECT count() FROM spur.billing_periods") is None
    engineer = account(deploy_server, "engineer")
    assert refused(engineer, "SELECT count() FROM spur.actions") is None
    assert refused(engineer, "INSERT INTO spur.dead_letters (reason) VALUES ('x')") is not None
