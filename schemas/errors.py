"""The one root of spur's errors: what went wrong, what to do, and the exit code.

Every failure a user can act on derives from :class:`SpurError`, where it is
defined: :class:`InputError` for bad input (options, settings, files; exit
2, retrying the same input fails again) or :class:`UnavailableError` for a
broker or store that cannot be reached or refused a call (exit 1, usually
``retriable``). The command line catches ``SpurError`` once and prints its
message and hint, never a traceback; workers use ``retriable`` to decide
between retrying and dying.
"""

from __future__ import annotations

from typing import ClassVar


class SpurError(Exception):
    """A failure with a message for the user, a hint on what to do, and an exit code."""

    exit_code: ClassVar[int] = 1
    default_hint: ClassVar[str | None] = None

    def __init__(self, message: str = "", *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint if hint is not None else self.default_hint

    @property
    def retriable(self) -> bool:
        """Whether the same call may succeed later (a transient failure)."""
        return False


class InputError(SpurError):
    """Bad input (an option, a setting, a file): exit 2; the same input fails again."""

    exit_code: ClassVar[int] = 2


class UnavailableError(SpurError):
    """The store or the broker cannot be reached or refused the call: exit 1."""

    exit_code: ClassVar[int] = 1

    @property
    def retriable(self) -> bool:
        return True
