"""Keeping the conflict radar current: watch every worktree and the repository's refs, rescan what
changed, report each new answer.

A saved file reaches the radar after a short debounce and only that file is looked at again; a
moved ref (a commit, the base branch advancing) re-resolves every session's HEAD. A full rescan now
and then covers anything a watcher can miss. Every report is added to the conflict history
(:mod:`agentmux.core.git.conflict_history`) before it is handed on.

Sessions on other hosts have no worktree here to watch: their snapshots come from ``remote_work``
(their hosts export their work and this repository fetches it, over ssh), asked every
``remote_seconds`` on a thread of its own, so a save here never waits on a host; each answer is
compared with the local snapshots as they are.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import watchfiles

from agentmux.core.git.conflict_history import ConflictHistory
from agentmux.core.git.conflicts import ConflictRadar, ConflictReport
from agentmux.core.git.snapshots import Snapshot
from agentmux.core.records import LOCAL_HOST, SessionRecord, Status

ReportSink = Callable[[ConflictReport], object]
#: The snapshots of the sessions on other hosts, by session id (fetched into this repository).
RemoteWork = Callable[[], Mapping[str, Snapshot]]
_DEFAULT = watchfiles.DefaultFilter()


class RadarWatcher:
    """A background thread that keeps a :class:`ConflictRadar` 's report up to date."""

    def __init__(
        self,
        radar: ConflictRadar,
        common_dir: Path,
        on_report: ReportSink,
        *,
        debounce_ms: int = 50,
        rescan_seconds: float = 60.0,
        history: ConflictHistory | None = None,
        remote_work: RemoteWork | None = None,
        remote_seconds: float = 15.0,
    ) -> None:
        self.radar = radar
        self.remote_work = remote_work
        self.remote_seconds = remote_seconds
        #: Where reports are recorded; None: the repository's own state store, opened on the
        #: first scan (in the radar's thread, so a store that cannot open never stops the radar).
        self.history = history
        self._own_history = False
        self.common_dir = common_dir
        self.on_report = on_report
        self.debounce_ms = debounce_ms
        self.rescan_seconds = rescan_seconds
        self._records: list[SessionRecord] = []
        self._remote: list[SessionRecord] = []
        self._remote_snapshots: dict[str, Snapshot] = {}
        self._remote_fresh = threading.Event()
        self._remote_wanted = threading.Event()
        self._records_changed = threading.Event()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        # Ends one watch: a watcher flooded with ignored events never times out, so a change of
        # sessions (or stop) must interrupt it from outside.
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._remote_thread: threading.Thread | None = None
        self.errors: list[str] = []

    def set_records(self, records: Sequence[SessionRecord]) -> None:
        """The sessions to compare (the caller's latest reconcile); rescans when they change.
        Only this machine's worktrees are watched: a host's worktree path names nothing here
        (or something else); the sessions on other hosts are compared through ``remote_work``."""
        live = [r for r in records if r.status is not Status.REMOVED and r.host == LOCAL_HOST]
        elsewhere = [r for r in records if r.status is not Status.REMOVED and r.host != LOCAL_HOST]
        if self.remote_work is None:
            elsewhere = []
        with self._lock:
            before = {(r.id, r.worktree) for r in self._records}
            self._records = live
            remote_before = {r.id for r in self._remote}
            self._remote = elsewhere
        if {(r.id, r.worktree) for r in live} != before:
            self._records_changed.set()
            self._wake.set()
        if {r.id for r in elsewhere} - remote_before:
            self._remote_wanted.set()  # a new session elsewhere: ask its host now

    def start(self) -> None:
        """Start watching in a daemon thread."""
        self._thread = threading.Thread(target=self._run, name="agentmux-radar", daemon=True)
        self._thread.start()
        if self.remote_work is not None:
            self._remote_thread = threading.Thread(
                target=self._pull_remote, name="agentmux-radar-hosts", daemon=True
            )
            self._remote_thread.start()

    def stop(self) -> None:
        """Stop watching and wait for the thread."""
        self._stop.set()
        self._wake.set()
        self._remote_wanted.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._remote_thread is not None:
            self._remote_thread.join(timeout=5)
        if self._own_history and self.history is not None and not self.running:
            self.history.store.close()

    @property
    def running(self) -> bool:
        """Whether the watching thread is still alive."""
        return self._thread is not None and self._thread.is_alive()

    def _snapshot_records(self) -> list[SessionRecord]:
        with self._lock:
            return list(self._records)

    def _given(self) -> tuple[list[SessionRecord], dict[str, Snapshot]]:
        """The sessions on other hosts and their last fetched snapshots (one that was never
        fetched is unknown, saying so)."""
        with self._lock:
            remote = list(self._remote)
            fetched = dict(self._remote_snapshots)
        waiting = "its host's work is not fetched yet"
        return remote, {
            r.id: fetched.get(r.id) or Snapshot(r.id, unavailable=waiting) for r in remote
        }

    def _pull_remote(self) -> None:
        """Ask the hosts for their sessions' work every ``remote_seconds`` (at once when a new
        session elsewhere appears); each answer wakes the radar for a compare."""
        assert self.remote_work is not None
        while not self._stop.is_set():
            self._remote_wanted.clear()
            with self._lock:
                wanted = bool(self._remote)
            if wanted:
                try:
                    found = dict(self.remote_work())
                except Exception as exc:  # a host's failure is reported, never the radar's end
                    message = f"sessions on other hosts: {exc}"
                    if message not in self.errors[-1:]:  # asked again every 15 s: said once
                        self.errors.append(message)
                else:
                    with self._lock:
                        same = found == self._remote_snapshots
                        self._remote_snapshots = found
                    if not same:  # quiet hosts: nothing new to compare
                        self._remote_fresh.set()
            self._remote_wanted.wait(self.remote_seconds)

    def _scan(self, changed: dict[str, list[Path]] | None) -> None:
        self._remote_fresh.clear()
        remote, given = self._given()
        try:
            report = self.radar.scan([*self._snapshot_records(), *remote], changed, given)
        except Exception as exc:  # the radar must outlive one bad scan; the error is reported
            self.errors.append(str(exc))
            return
        self._record(report)
        self.on_report(report)

    def _record(self, report: ConflictReport) -> None:
        """Add the report to the conflict history; a failure is kept in ``errors``, never fatal."""
        try:
            if self.history is None:
                self.history = ConflictHistory.for_repo(self.common_dir)
                self._own_history = self.history is not None
            if self.history is not None:
                self.history.record(self._recorded(report))
        except Exception as exc:  # the radar must outlive its history; the error is reported
            message = f"conflict history: {exc}"
            if message not in self.errors[-1:]:
                self.errors.append(message)

    def _recorded(self, report: ConflictReport) -> ConflictReport:
        """What the conflict history keeps of a report: this machine's sessions and their pairs.
        A session on another host has no row in this repository's store to hang its history
        on: its pairs are shown, not recorded."""
        with self._lock:
            elsewhere = {r.id for r in self._remote}
        if not elsewhere:
            return report
        here = tuple(s for s in report.sessions if s.session_id not in elsewhere)
        names = {s.name for s in here}
        return replace(
            report,
            sessions=here,
            pairs=tuple(p for p in report.pairs if p.a in names and p.b in names),
            against_base=tuple(p for p in report.against_base if p.a in names),
        )

    def _run(self) -> None:
        while not self._stop.is_set():
            self._records_changed.clear()
            self._wake.clear()
            records = self._snapshot_records()
            self._scan(None)
            last_full = time.monotonic()
            worktrees = {Path(r.worktree): r.id for r in records if Path(r.worktree).is_dir()}
            catch_up = True
            try:
                for changes in watchfiles.watch(
                    *worktrees,
                    *self._ref_paths(),
                    watch_filter=self._wanted,
                    debounce=self.debounce_ms,
                    step=50,
                    stop_event=self._wake,
                    rust_timeout=500,
                    yield_on_timeout=True,
                    raise_interrupt=False,
                ):
                    if self._records_changed.is_set():
                        break  # a session came or went: watch the new set of worktrees
                    if catch_up:
                        # Changes made between the first scan and the watch starting were missed.
                        catch_up = False
                        self._scan(None)
                        continue
                    if self._remote_fresh.is_set() and not changes:
                        self._scan({})  # new snapshots from the hosts; nothing here changed
                        continue
                    if not changes:
                        if time.monotonic() - last_full > self.rescan_seconds:
                            self._scan(None)
                            last_full = time.monotonic()
                        continue
                    self._scan(self._group(changes, worktrees))
            except (OSError, RuntimeError) as exc:  # a watched directory vanished: start over
                self.errors.append(str(exc))
                self._stop.wait(0.5)

    def _ref_paths(self) -> list[Path]:
        """What moves when a commit is made or a branch moves (not the state DB, not objects)."""
        candidates = ("refs", "packed-refs", "HEAD", "worktrees")
        return [self.common_dir / name for name in candidates if (self.common_dir / name).exists()]

    def _group(
        self, changes: set[tuple[watchfiles.Change, str]], worktrees: dict[Path, str]
    ) -> dict[str, list[Path]]:
        changed: dict[str, list[Path]] = {}
        refs_moved = False
        for _change, raw in changes:
            path = Path(raw)
            if path.is_relative_to(self.common_dir):
                refs_moved = True
                continue
            for root, session_id in worktrees.items():
                if path.is_relative_to(root):
                    changed.setdefault(session_id, []).append(path)
                    break
        if refs_moved:
            for session_id in worktrees.values():
                changed.setdefault(session_id, [])  # re-read HEAD: a commit or a new base
        return changed

    def _wanted(self, change: watchfiles.Change, raw: str) -> bool:
        path = Path(raw)
        if path.is_relative_to(self.common_dir):
            parts = path.relative_to(self.common_dir).parts
            if not parts:
                return False
            return parts[0] in ("refs", "packed-refs", "HEAD") or (
                parts[0] == "worktrees" and parts[-1] == "HEAD"
            )
        return _DEFAULT(change, raw)
