"""The ClickHouse server configuration: TLS only, no default user, least privilege."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "clickhouse"


def role_grants() -> dict[str, list[str]]:
    """Each role's GRANT statements, as users.d defines them."""
    roles = ET.parse(DEPLOY / "users.d" / "spur.xml").getroot().find("roles")
    assert roles is not None
    return {role.tag: [q.text or "" for q in role.iterfind("grants/query")] for role in roles}


def grants() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for role, statements in role_grants().items():
        for statement in statements:
            for table in re.findall(r"^GRANT SELECT ON spur\.(\w+)$", statement):
                found.setdefault(table, set()).add(role)
    return found


def removed(parent: ET.Element, tag: str) -> bool:
    element = parent.find(tag)
    return element is not None and element.get("remove") == "1"


def test_only_the_secure_native_port_is_open() -> None:
    config = ET.parse(DEPLOY / "config.d" / "spur.xml").getroot()
    assert removed(config, "tcp_port")
    assert removed(config, "http_port")
    assert config.findtext("tcp_port_secure") == "9440"
    assert "tlsv1_1" in (config.findtext("openSSL/server/disableProtocols") or "")


def test_users_have_no_default_passwords_and_the_default_user_is_gone() -> None:
    users = ET.parse(DEPLOY / "users.d" / "spur.xml").getroot().find("users")
    assert users is not None
    assert removed(users, "default")
    named = [u for u in users if u.tag != "default"]
    assert {u.tag for u in named} == {"spur_admin", "spur_writer", "billing", "ops", "engineer"}
    for user in named:
        password = user.find("password")
        assert password is not None, user.tag
        assert password.get("from_env"), user.tag
        assert not (password.text or "").strip(), user.tag


def test_least_privilege() -> None:
    by_table = grants()
    assert by_table["usage_hourly"] >= {"billing_role", "ops_role", "engineer_role"}
    raw = ("actions", "web_requests", "form_submissions")
    for table in raw:
        assert by_table[table] == {"engineer_role"}, table
    assert "billing_role" not in by_table["dead_letters"]
    assert by_table["capacity_minutely"] == {"ops_role", "engineer_role"}


def test_billing_may_append_closed_periods_but_never_change_them() -> None:
    billing = role_grants()["billing_role"]
    assert grants()["billing_periods"] == {"billing_role"}
    assert "GRANT INSERT ON spur.billing_periods" in billing
    for statement in billing:
        assert not re.search(r"\b(ALTER|DELETE|TRUNCATE|DROP)\b", statement), statement
