"""The verbs' side for sessions on other hosts: ``new --host``, the host rows of ``ls``, and the
routing of ``send``/``stop``/``rm``/``attach``/``broadcast`` to the host a session runs on; and
``_host-clone``, the verb a host's agentmux runs for the agentmux that drives it."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from agentmux import __version__
from agentmux.commands.common import add_verb, err, open_manager, out
from agentmux.core.errors import AgentmuxError
from agentmux.core.host.remote.clone import clone_path, ensure_clone
from agentmux.core.records import SessionRecord
from agentmux.core.sessions.manager import SessionManager
from agentmux.core.sessions.work_export import export_work


def new_on_host(
    manager: SessionManager, args: argparse.Namespace, prompt: bytes | None, budget: Decimal | None
) -> int:
    """``new --host NAME``: one session on another host."""
    records = []
    for n in range(1, args.count + 1):
        name = f"{args.name}-{n}" if args.name and args.count > 1 else args.name
        try:
            records.append(
                manager.remote.create(
                    args.host,
                    agent=args.agent,
                    name=name,
                    base=args.base,
                    prompt=prompt,
                    budget=budget,
                )
            )
        except AgentmuxError as exc:
            if args.count == 1:
                raise
            made = ", ".join(r.name for r in records) or "none"
            raise AgentmuxError(
                f"{exc.message.rstrip('.')} (session {n} of {args.count}; created: {made})."
            ) from exc
    if args.json:
        rows = [r.to_json() for r in records]
        out.print_json(json.dumps(rows[0] if args.count == 1 else rows))
        return 0
    for record in records:
        out.print(
            f"{record.name}: {record.status} on host {record.host}, on {record.branch} in "
            f"{record.worktree}"
        )
    return 0


class HostsAsked:
    """The hosts asked how their sessions are on a thread of its own, started before this
    machine's sessions are reconciled: the two wait on different processes, so a listing takes
    the longer of them, not their sum. Nothing is started when no session runs elsewhere (and
    the ssh and hosts modules are not even loaded)."""

    def __init__(self, manager: SessionManager, include_removed: bool) -> None:
        self.include_removed = include_removed
        self._failed: BaseException | None = None
        self._thread: threading.Thread | None = None
        if manager.store.remote_sessions(include_removed):
            self._thread = threading.Thread(
                target=self._ask, args=(manager,), name="agentmux-hosts", daemon=True
            )
            self._thread.start()

    def _ask(self, manager: SessionManager) -> None:
        try:
            manager.remote.refresh()
        except BaseException as exc:  # raised again in the caller's thread by wait()
            self._failed = exc

    def wait(self) -> bool:
        """Wait for the answers (each host's problem kept in ``manager.remote.problems``);
        whether any host was asked."""
        if self._thread is None:
            return False
        self._thread.join()
        if self._failed is not None:
            raise self._failed
        return True


def remote_rows(manager: SessionManager, asked: HostsAsked) -> list[dict[str, Any]]:
    """``ls --json`` rows of the sessions on other hosts, once ``asked`` has their answers."""
    if not asked.wait():
        return []
    from agentmux.core.sessions import remote_sessions  # noqa: PLC0415 - only with remote rows

    say_problems(manager)
    rows = []
    for stored in manager.remote.rows(asked.include_removed):
        record = remote_sessions.remote_record(stored)
        if record is None:
            continue
        row = record.to_json()
        heard = manager.remote.heard.get(stored.id, stored.row)  # this listing's answer
        row["branch_head"] = stored.row.get("branch_head")  # as last heard: the ref here
        row["idle_seconds"] = heard.get("idle_seconds") if stored.reachable else None
        row["worktree_exists"] = stored.row.get("worktree_exists") if stored.reachable else None
        rows.append(row)
    return rows


def remote_records(manager: SessionManager, asked: HostsAsked) -> list[SessionRecord]:
    """The sessions on other hosts, once ``asked`` has their answers (none when none runs
    elsewhere)."""
    if not asked.wait():
        return []
    say_problems(manager)
    return manager.remote.records(asked.include_removed)


def say_problems(manager: SessionManager) -> None:
    """One line on stderr per host that could not be reached."""
    for host, problem in sorted(manager.remote.problems.items()):
        err.print(f"agentmux: host {host} not reached: {problem}")


def is_remote(manager: SessionManager, name: str) -> bool:
    """Whether ``name`` is a live session on another host."""
    return manager.remote.find(name) is not None


def attach_remote(manager: SessionManager, name: str) -> int:
    """``attach`` to a session on another host: an interactive ssh through the master."""
    return manager.remote.attach(name)


def forward(args: argparse.Namespace, argv: Sequence[str]) -> int | None:
    """Run a verb about one session on the host it runs on, when it runs on another host (its
    output and exit status passed on as they are); None for a session on this machine."""
    name = getattr(args, "name", None)
    if not isinstance(name, str):
        return None
    manager = open_manager(quiet=True)
    try:
        row = manager.remote.find(name)
        if row is None:
            return None
        rest = list(argv)
        if args.chdir:  # the host runs it in its clone, not in a directory of this machine
            at = rest.index("-C") if "-C" in rest else -1
            del rest[at : at + 2]
        result = manager.remote.host(row.host).run_raw(row.clone, rest, input=_stdin_for(rest))
    finally:
        manager.close()
    sys.stdout.flush()
    sys.stdout.buffer.write(result.stdout)
    sys.stdout.buffer.flush()
    sys.stderr.buffer.write(
        result.stderr.replace(b"agentmux: ", f"agentmux: on host {row.host}: ".encode(), 1)
    )
    sys.stderr.buffer.flush()
    return result.returncode


def _stdin_for(argv: Sequence[str]) -> bytes | None:
    return sys.stdin.buffer.read() if "-" in argv else None


# --- the host's side ---------------------------------------------------------------------------


def cmd_host_clone(args: argparse.Namespace) -> int:
    """Make (once) this host's clone of a repository another agentmux drives; print its path."""
    clone = clone_path(args.key, args.path)
    fresh = ensure_clone(clone)
    out.print_json(json.dumps({"clone": str(clone), "fresh": fresh, "version": __version__}))
    return 0


def cmd_export_work(args: argparse.Namespace) -> int:
    """Snapshot sessions' work in progress into refs another agentmux fetches; print JSON."""
    manager = open_manager(quiet=True)
    try:
        out.print_json(json.dumps([export_work(manager, name) for name in args.names]))
    finally:
        manager.close()
    return 0


def cmd_socket(_args: argparse.Namespace) -> int:
    """Print where this repository's tmux server listens, for a viewer on another machine."""
    manager = open_manager(quiet=True)
    try:
        out.print_json(json.dumps({"socket": str(manager.host.socket)}))
    finally:
        manager.close()
    return 0


def cmd_merged(args: argparse.Namespace) -> int:
    """Record that a session's tip was merged in the repository driving this host (its target
    is not in this clone, so without this its commits would look unmerged here)."""
    from agentmux.core.git.merged import (  # noqa: PLC0415 - this verb's only
        merged_event_data,
        record_merged,
    )

    manager = open_manager(quiet=True)
    try:
        record = manager.get(args.name)
        data = merged_event_data(args.into, args.tip, args.commit, args.squash, elsewhere=True)
        record_merged(manager.store, record.id, data)
    finally:
        manager.close()
    return 0


def register(verbs: Any) -> None:
    """Add the hidden verbs a host's agentmux runs for the agentmux driving it."""
    clone = add_verb(verbs, "_host-clone", cmd_host_clone, None)
    clone.add_argument("--key", required=True, help="the driving repository's clone key")
    clone.add_argument("--path", help="where clones are kept (default: agentmux's data dir)")
    add_verb(verbs, "_socket", cmd_socket, None)
    export = add_verb(verbs, "_export-work", cmd_export_work, None)
    export.add_argument("names", nargs="+")
    merged = add_verb(verbs, "_merged", cmd_merged, None)
    merged.add_argument("name")
    merged.add_argument("--into", required=True, help="the branch it landed on, over there")
    merged.add_argument("--tip", required=True, help="the session's commit that landed")
    merged.add_argument("--commit", required=True, help="that branch's new head")
    merged.add_argument("--squash", action="store_true")
