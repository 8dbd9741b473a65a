"""What every verb shares: the consoles, progress lines for core events, opening a repository."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from agentmux.core.events import (
    PromptDelivered,
    PromptHeld,
    PromptNotDelivered,
    SessionEvent,
    SessionExited,
    SessionLost,
    SessionQueued,
    SessionRemoved,
    SessionStarted,
    SessionStopped,
)
from agentmux.core.sessions.manager import SessionManager

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from agentmux.core.config.settings import Config


def _console(**options: Any) -> Console:
    from rich.console import Console  # noqa: PLC0415 - see _LazyConsole

    # Paths, branches, prompts, git messages and config values are printed literally: a string
    # is never read as markup (`a[/b]` crashed, `proj [wip]` lost its `[wip]`) or emoji codes;
    # colour comes only from styled spans (``Text.assemble``).
    return Console(markup=False, emoji=False, highlight=False, soft_wrap=True, **options)


class _LazyConsole:
    """A rich console made on first use. Loading rich is a tenth of a verb's start-up, and the
    verbs that print only JSON into a pipe (``ls --json``, every answer a host gives another
    agentmux) need none of it."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            self._console = _console(**self._options)
        return getattr(self._console, name)

    def print_json(self, json_text: str | None = None, *, data: Any = None) -> None:
        """Pretty JSON: into a pipe or file as rich prints it uncoloured (two-space indent,
        text unescaped), without loading rich; on a terminal, rich colours it."""
        if self._options.get("stderr") or sys.stdout.isatty():
            self.__getattr__("print_json")(json_text, data=data)
            return
        value = json.loads(json_text) if json_text is not None else data
        sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


# Lines are never wrapped, so a path is never broken across two.
err = cast("Console", _LazyConsole(stderr=True))
out = cast("Console", _LazyConsole())
# Tables into a pipe or a file: as wide as their longest row, never wrapped or cut.
_wide = cast("Console", _LazyConsole(width=1_000_000))


def print_table(table: Table) -> None:
    """A table fitted to the terminal, or, into a pipe or file, with every cell on one line."""
    (out if out.is_terminal else _wide).print(table)


def report(event: SessionEvent) -> None:
    """Print core events as short progress lines on stderr."""
    from rich.text import Text  # noqa: PLC0415 - see _LazyConsole

    if isinstance(event, SessionStarted):
        err.print(
            Text.assemble(
                ("started", "green"),
                f" {event.name} (tmux {event.tmux_session_id} {event.pane_id})",
            )
        )
    elif isinstance(event, SessionQueued):
        err.print(
            Text.assemble(
                ("queued", "yellow"),
                f" {event.name}: {event.running} of {event.limit} slots busy; "
                "it starts when one frees",
            )
        )
    elif isinstance(event, PromptHeld):
        err.print(
            Text.assemble(
                ("held", "yellow"),
                f" for {event.name}: it is working; the prompt is typed when it is "
                f"idle ({event.waiting} waiting)",
            )
        )
    elif isinstance(event, PromptDelivered):
        err.print(
            Text.assemble(("prompt delivered", "green"), f" to {event.name} ({event.size} bytes)")
        )
    elif isinstance(event, PromptNotDelivered):
        err.print(
            Text.assemble(
                ("prompt not delivered", "red"),
                f" to {event.name}: {event.reason}; send it with `agentmux send {event.name} ...`",
            )
        )
    elif isinstance(event, SessionExited):
        err.print(f"{event.name} exited ({exit_text(event.exit_status, event.exit_signal)})")
    elif isinstance(event, SessionLost):
        err.print(Text.assemble(("lost", "red"), f" {event.name}: {event.reason}"))
    elif isinstance(event, SessionStopped):
        err.print(f"stopped {event.name}")
    elif isinstance(event, SessionRemoved):
        err.print(f"removed {event.name}{removed_detail(event)}")


def removed_detail(event: SessionRemoved) -> str:
    """Every ref ``rm`` made, and what it left where."""
    detail = f"; its work is kept on {event.archive_ref}" if event.archive_ref else ""
    if event.nested_refs:
        detail += f", its nested repositories' work on {', '.join(event.nested_refs)}"
    if event.files_only:
        detail += f" (only the files of {', '.join(event.files_only)}: shallow or partial clones)"
    if event.left_in_place:
        detail += (
            f"; left {event.left_in_place} in place with its files (it is a plain directory, "
            "not the session's git worktree)"
        )
    return detail


def exit_text(status: int | None, signal: int | None) -> str:
    """How an agent process ended, in words."""
    if signal:
        return f"signal {signal}"
    return f"status {status}" if status is not None else "status unknown"


def open_manager(quiet: bool = False, *, trust_notice: bool = False) -> SessionManager:
    """The repository around the current directory, printing core events unless ``quiet``.

    Verbs that use agent profiles or the worktree location pass ``trust_notice``: settings an
    untrusted ``agentmux.toml`` asked for, and that were ignored, are named on stderr.
    """
    manager = SessionManager.open(Path.cwd(), on_event=(lambda _e: None) if quiet else report)
    if trust_notice:
        say_trust_notice(manager.config)
    return manager


def say_trust_notice(config: Config) -> None:
    """One sentence on stderr when the repository's config was applied only in part."""
    if config.trust_notice:
        err.print(f"agentmux: {config.trust_notice}")


def add_verb(
    verbs: Any, name: str, func: Callable[[argparse.Namespace], int], text: str | None
) -> argparse.ArgumentParser:
    """Add a verb whose one-line ``text`` is both its help and its description.

    argparse %-formats help strings but not descriptions: the help gets ``%`` doubled, so a text
    can say "80%" and read the same in both places.
    """
    if text is None:
        sub: argparse.ArgumentParser = verbs.add_parser(name)
    else:
        sub = verbs.add_parser(name, help=text.replace("%", "%%"), description=text)
    sub.set_defaults(func=func)
    return sub


def kick_deliveries(manager: SessionManager) -> None:
    """Deliver prompts of sessions a drain just started, in a detached process (no waiting)."""
    if manager.started_by_last_drain:
        subprocess.Popen(
            [sys.executable, "-m", "agentmux", "_tick"],
            cwd=manager.repo.root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
