"""Privacy rules applied before anything is stored (pure functions).

- IP policy per stream (clause 5, anonymizeIp): ``full`` keeps the address,
  ``truncate`` zeroes all but the first 24 bits of IPv4 / 48 bits of IPv6
  (40 of a 6to4 address, which holds an IPv4 address in its first 48),
  ``drop`` stores the unspecified address ``::``.
- Query strings and fragments are removed from web paths (clause 3.1).
- An action's profile is kept only while the login's latest consent to
  extended processing, at the action's time, is granted (clause 3.6).
"""

from __future__ import annotations

import bisect
import datetime as dt
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

IpPolicy = Literal["full", "truncate", "drop"]
UNSPECIFIED = "::"


def apply_ip_policy(address: str, policy: IpPolicy) -> str:
    if policy == "full":
        return address
    if policy == "drop":
        return UNSPECIFIED
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    if isinstance(ip, ipaddress.IPv6Address) and ip.sixtofour is not None:
        # 2002::/16 holds a whole IPv4 address in bits 16-48, which /48 would keep:
        # cut it as that address is cut (found from outside).
        prefix = 16 + 24
    network = ipaddress.ip_network(f"{ip}/{prefix}", strict=False)
    return str(network.network_address)


def strip_query(path: str) -> str:
    """The path without anything after ``?`` or ``#`` (may carry personal data)."""
    cut = min((i for i in (path.find("?"), path.find("#")) if i >= 0), default=len(path))
    return path[:cut] or "/"


@dataclass(frozen=True, slots=True)
class ConsentDecision:
    ts: dt.datetime
    granted: bool


class ConsentLedger:
    """Each login's consent decisions in time order; answers 'granted at t?'."""

    def __init__(self, decisions: Mapping[str, Sequence[ConsentDecision]]) -> None:
        self._by_login = {
            login: sorted(entries, key=lambda d: d.ts) for login, entries in decisions.items()
        }

    def granted_at(self, login: str, at: dt.datetime) -> bool:
        entries = self._by_login.get(login)
        if not entries:
            return False
        position = bisect.bisect_right([d.ts for d in entries], at)
        return position > 0 and entries[position - 1].granted
