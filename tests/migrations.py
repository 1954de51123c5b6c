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
