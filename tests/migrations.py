"""A store brought to an older schema, to test what an upgrade does to it."""

from __future__ import annotations

import threading

from spur.settings import Settings
from spur_sinks.migrate import BOOTSTRAP, apply_migrations, migrations, render
from spur_sinks.store import ServerStore, Store


def migrate_until(store: Store, version: int) -> None:
    """Apply and record every migration before ``version``, as an older spur did."""
    for template in BOOTSTRAP:
        store.execute(template.format(db=store.database))
    for migration in migrations():
        if migration.version < version:
            for statement in render(migration, Settings().retention.tables, store.database):
                store.execute(statement)
            store.insert(
                "schema_migrations", {"version": [migration.version], "name": [migration.name]}
            )


def apply_only(store: Store, version: int) -> None:
    """Apply and record one migration out of order: the raw layout the current
    code writes (0011) under an older schema of other tables."""
    (migration,) = [m for m in migrations() if m.version == version]
    for statement in render(migration, Settings().retention.tables, store.database):
        store.execute(statement)
    store.insert("schema_migrations", {"version": [version], "name": [migration.name]})


def migrate_together(store: Store, workers: int, pause: float = 0.5) -> list[BaseException]:
    """Apply the migrations from ``workers`` connections at once, as workers started
    together do; what each raised (none, when they coped with one another)."""
    assert isinstance(store, ServerStore)
    stores = [ServerStore(store.url, 30.0) for _ in range(workers)]
    failures: list[BaseException] = []

    def migrate(own: Store) -> None:
        try:
            apply_migrations(own, Settings().retention.tables, pause=pause)
        except BaseException as exc:  # reported to the caller, with the others'
            failures.append(exc)

    threads = [threading.Thread(target=migrate, args=(own,)) for own in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for own in stores:
        own.close()
    return failures
