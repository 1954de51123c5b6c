"""The ``spur`` command line (DESIGN §5): the root group and its commands.

Exit codes: 0 success, 1 the command failed (broker or store unreachable,
worker died), 2 bad input (options, file lines); every failure prints what
went wrong and what to do on stderr.
"""

from __future__ import annotations

import click

from spur.cli import pipeline, privacy, read


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """spur: telemetry of a SaaS operator's app servers, from Kafka to ClickHouse.

    Configuration comes from SPUR_* environment variables (e.g.
    SPUR_KAFKA_BOOTSTRAP, SPUR_CLICKHOUSE_URL); `spur dev up` starts a local
    broker that commands run in this directory use by default.
    """
    import os

    from spur.client.private import PRIVATE_UMASK

    # What spur and its children (broker, store, Faust) write is private.
    os.umask(PRIVATE_UMASK)


for _module in (pipeline, privacy, read):
    for _command in _module.COMMANDS:
        main.add_command(_command)

if __name__ == "__main__":
    main()
