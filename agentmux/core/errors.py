"""The one error type users see: a single clear sentence, never a traceback."""

from __future__ import annotations


class AgentmuxError(Exception):
    """A problem the user can act on, described in one sentence.

    ``exit_code`` is what the CLI exits with; 1 unless a verb documents otherwise.
    """

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message
