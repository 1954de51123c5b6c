"""What the pipeline keeps of an IP address, and the salt of the erasure audit."""

from __future__ import annotations

from pydantic import SecretStr

from spur.settings.base import Group
from spur_streams.privacy import IpPolicy


class PrivacySettings(Group):
    """``SPUR_*_IP_POLICY`` and ``SPUR_ERASURE_SALT``."""

    # Full: actions' addresses serve misuse investigation.
    actions_ip_policy: IpPolicy = "full"
    web_ip_policy: IpPolicy = "truncate"
    forms_ip_policy: IpPolicy = "truncate"
    # Erasure audit: the subject is logged as HMAC(salt, subject). Unset: a
    # random salt is made once and kept in the state directory (mode 0600).
    erasure_salt: SecretStr | None = None
