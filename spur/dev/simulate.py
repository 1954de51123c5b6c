"""Simulated app servers: realistic, reproducible action workloads.

Used by ``spur demo``, the integration tests and the benchmarks. Sessions
are chains: a user action triggers actions automatically, which carry
``parent_action_id``. Deterministic for a given seed.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import msgspec

from spur.client.ids import IdMinter
from spur_schemas.events import Action, Profile

# (user action, actions it triggers automatically)
_CHAINS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("document.upload", ("document.scan", "thumbnail.render", "index.update")),
    ("document.export", ("document.render",)),
    ("document.open", ()),
    ("search.query", ("index.lookup",)),
    ("report.build", ("query.run", "query.run", "document.render")),
    ("login", ()),
)
_KINDS = {"document.upload": "pdf", "document.export": "pdf", "search.query": "hits"}


@dataclass(frozen=True)
class WorkloadShape:
    customers: int = 8
    sessions_per_customer: int = 6
    month_start: dt.datetime = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    days: float = 28
    error_rate: float = 0.03
    seed: int = 7


@dataclass(frozen=True)
class _Session:
    customer_id: int
    login: str
    session_id: str
    client_ip: str


def simulate_actions(shape: WorkloadShape) -> list[Action]:
    """Every action of every session of every customer, in order of ``started_at``.

    Time order is what live app servers produce; lateness is measured in
    event time per partition, so a stream sorted by customer instead would
    make most of a month "late".
    """
    in_time_order = sorted(_sessions(shape), key=lambda action: action.started_at)
    return _minted_by_servers(in_time_order, random.Random(shape.seed))  # noqa: S311


def _minted_by_servers(actions: list[Action], rng: random.Random) -> list[Action]:
    """Ids as the app servers mint them: one minter per server process, in time order.

    Generation runs session by session, so the ids it starts with are
    placeholders; this is what makes stored ids look like production ones.
    """
    minters: dict[str | None, IdMinter] = {}
    minted: dict[uuid.UUID, uuid.UUID] = {}
    for action in actions:
        minter = minters.get(action.server)
        if minter is None:
            minter = minters[action.server] = IdMinter(seed=rng.getrandbits(62))
        minted[action.action_id] = minter.mint(action.started_at)
    return [
        msgspec.structs.replace(
            action,
            action_id=minted[action.action_id],
            parent_action_id=minted[action.parent_action_id] if action.parent_action_id else None,
        )
        for action in actions
    ]


def _sessions(shape: WorkloadShape) -> Iterator[Action]:
    rng = random.Random(shape.seed)  # noqa: S311  # reproducible workloads, not secrets
    for customer_id in range(1001, 1001 + shape.customers):
        logins = [f"user{n}@c{customer_id}.example" for n in range(1, 4)]
        for session_no in range(shape.sessions_per_customer):
            session = _Session(
                customer_id=customer_id,
                login=rng.choice(logins),
                session_id=f"s-{customer_id}-{session_no}-{rng.getrandbits(32):08x}",
                client_ip=f"10.{customer_id % 250}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            )
            at = shape.month_start + dt.timedelta(
                seconds=rng.randrange(max(1, int(shape.days * 86400)))
            )
            for _ in range(rng.randint(1, 4)):
                root, triggered = rng.choice(_CHAINS)
                parent = _action(rng, shape, root, session, at)
                yield parent
                for step, name in enumerate(triggered, start=1):
                    child_at = at + dt.timedelta(milliseconds=20 * step)
                    yield _action(rng, shape, name, session, child_at, parent=parent)
                at += dt.timedelta(seconds=rng.randint(5, 300))


def _action(
    rng: random.Random,
    shape: WorkloadShape,
    name: str,
    session: _Session,
    at: dt.datetime,
    *,
    parent: Action | None = None,
) -> Action:
    failed = rng.random() < shape.error_rate
    kind = _KINDS.get(name)
    return Action(
        action_id=uuid.UUID(int=rng.getrandbits(128)),  # a placeholder: _minted_by_servers
        action=name,
        customer_id=session.customer_id,
        login=session.login,
        session_id=session.session_id,
        started_at=at,
        ended_at=at + dt.timedelta(milliseconds=rng.randint(2, 4000)),
        bytes_in=rng.randint(200, 2_000_000) if name.endswith("upload") else rng.randint(200, 4000),
        bytes_out=rng.randint(500, 5_000_000),
        client_ip=session.client_ip,
        parent_action_id=parent.action_id if parent else None,
        data_kind=kind,
        data_count=rng.randint(1, 50) if kind else None,
        status="error" if failed else "ok",
        error_code="TimeoutError" if failed else None,
        server=f"app-{rng.randint(1, 3)}",
        profile=Profile(locale="de-DE") if rng.random() < 0.2 else None,
    )
