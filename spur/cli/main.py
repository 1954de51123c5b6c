"""The ``spur`` command line (docs/cli.md): the root group and its commands.

Exit codes: 0 success, 1 the command failed (broker or store unreachable,
worker died), 2 bad input (options, settings, file lines). Every failure
spur knows is a ``SpurError`` (spur_schemas.errors), caught here and nowhere
else: ``Error: <message>`` and ``Hint: <hint>`` on stderr, its exit code,
no traceback.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from types import FrameType
from typing import Any

import click

from spur.cli import (
    billing,
    data_subjects,
    deadletters,
    pipeline,
    query,
    reconcile,
    status,
    trace,
)
from spur.terminal import visible
from spur_schemas.errors import SpurError


class SpurGroup(click.Group):
    """The root group: turns every ``SpurError`` of a command into its message and exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SpurError as exc:
            # A message may quote stored text or the user's SQL: shown inert (spur.terminal).
            click.echo(f"Error: {visible(str(exc))}", err=True)
            if exc.hint:
                click.echo(f"Hint: {visible(exc.hint)}", err=True)
            ctx.exit(exc.exit_code)
        except BrokenPipeError:
            # The reader went away (`spur erase | head -1`): nothing left to say to it.
            _silence_stdout()
            ctx.exit(1)
        except MemoryError:
            click.echo("Error: out of memory for this output; write it with --format csv", err=True)
            ctx.exit(1)
        except OSError as exc:
            # Writing the output failed (a full disk, an I/O error): say so, not a traceback.
            click.echo(f"Error: {exc.strerror or exc}: {exc.filename or 'the output'}", err=True)
            ctx.exit(1)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush raises nothing."""

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # As Ctrl-C does: cleanups run, so the broker, store and workers a
    # command started (spur demo) are stopped, not orphaned.
    _terminating.set()
    raise KeyboardInterrupt


def _interrupt_again(unraisable: Any) -> None:
    """Raised in a finalizer or a weakref callback, the interrupt is only
    printed and ignored (measured: the demo then ran to its end); raise it
    again in a moment, at a place that stops the command.

    Other errors in finalizers while the command stops are what the stop
    left behind (a coroutine interrupted while connecting closes its
    connection on an event loop closed meanwhile: found in CI when SIGTERM
    came as the demo's publisher connected): one line each, not a traceback.
    """
    if _terminating.is_set() and issubclass(unraisable.exc_type, KeyboardInterrupt):
        threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGTERM)).start()
        return
    if _terminating.is_set():
        print(
            f"while stopping: {unraisable.exc_type.__name__}: {unraisable.exc_value} "
            f"(in {unraisable.object!r})",
            file=sys.stderr,
        )
        return
    sys.__unraisablehook__(unraisable)


_terminating = threading.Event()


# Long-running commands log for operators (Faust's handlers, the store's log).
_LOGGING_COMMANDS = frozenset({"worker", "store"})
# Commands that handle SIGTERM themselves (Faust's worker, the store's server).
_OWN_SIGNALS = frozenset({"worker", "store"})


@click.group(cls=SpurGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """spur: telemetry of a SaaS operator's app servers, from Kafka to ClickHouse.

    Configuration comes from SPUR_* environment variables (e.g.
    SPUR_KAFKA_BOOTSTRAP, SPUR_CLICKHOUSE_URL); `spur dev up` starts a local
    broker that commands run in this directory use by default.
    """
    from spur.client.private import PRIVATE_UMASK

    # What spur and its children (broker, store, Faust) write is private.
    os.umask(PRIVATE_UMASK)
    if ctx.invoked_subcommand not in _OWN_SIGNALS:
        signal.signal(signal.SIGTERM, _stop_on_sigterm)
        sys.unraisablehook = _interrupt_again
    if ctx.invoked_subcommand not in _LOGGING_COMMANDS:
        # A command reports its failure as one Error: line. Without a handler
        # Python prints the drivers' warnings, with tracebacks, before it
        # (clickhouse_driver's failed connect); their errors still show.
        errors_only = logging.StreamHandler()
        errors_only.setLevel(logging.ERROR)
        errors_only.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        logging.getLogger().addHandler(errors_only)


for _module in (pipeline, billing, reconcile, query, trace, deadletters, status, data_subjects):
    for _command in _module.COMMANDS:
        main.add_command(_command)

if __name__ == "__main__":
    main()
