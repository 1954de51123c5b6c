"""A store brought to an older schema, to test what an upgrade does to it."""

from __future__ import annotations

from spur.settings import Settings
from spur_sinks.migrate import BOOTSTRAP, migrations, render
from spur_sinks.store import Store


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
