"""Durable state: an SQLite database (WAL) per repository, under the git common dir.

It records every session and every event in its life with timestamps. Several agentmux
processes may use it at once: writes are short ``BEGIN IMMEDIATE`` transactions with a busy timeout.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from agentmux.core.errors import AgentmuxError
from agentmux.core.locking import repo_lock
from agentmux.core.records import SessionRecord, Status

SCHEMA_VERSION = 4
_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    agent TEXT NOT NULL,
    agent_kind TEXT NOT NULL,
    agent_session_id TEXT NOT NULL,
    argv TEXT NOT NULL,
    branch TEXT NOT NULL,
    worktree TEXT NOT NULL,
    base_ref TEXT NOT NULL,
    base_commit TEXT NOT NULL,
    status TEXT NOT NULL,
    prompt BLOB,
    created_at REAL NOT NULL,
    queued_at REAL,
    started_at REAL,
    ended_at REAL,
    exit_status INTEGER,
    exit_signal INTEGER,
    removed_at REAL,
    tmux_session_id TEXT,
    tmux_window_id TEXT,
    tmux_pane_id TEXT,
    archive_ref TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS sessions_live_name ON sessions(name) WHERE removed_at IS NULL;
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions(id),
    ts REAL NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS events_session ON events(session_id, ts);
"""
_SCHEMA_V2 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# Each session names the machine it runs on; every session before this ran on this one.
_SCHEMA_V3 = """
ALTER TABLE sessions ADD COLUMN host TEXT NOT NULL DEFAULT 'local';
"""
# Sessions on other hosts: each host's agentmux owns them; here is what this one last heard
# of them (the host's `ls --json` row), so they are listed, and shown unreachable, when the host
# is down.
_SCHEMA_V4 = """
CREATE TABLE IF NOT EXISTS remote_sessions (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    name TEXT NOT NULL,
    clone TEXT NOT NULL,
    row TEXT NOT NULL,
    reachable INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL,
    checked_at REAL NOT NULL,
    removed_at REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS remote_live_name ON remote_sessions(name)
    WHERE removed_at IS NULL;
"""
_MIGRATIONS = (_SCHEMA_V1, _SCHEMA_V2, _SCHEMA_V3, _SCHEMA_V4)
_RECORD_FIELDS = {f.name for f in fields(SessionRecord)}


def _corrupt(path: Path, exc: Exception) -> AgentmuxError:
    """The one sentence for a database error: busy, full, read-only, or unreadable."""
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError):
        if "locked" in text or "busy" in text:
            return AgentmuxError(
                f"the state database {path} stayed locked by another agentmux process for 30 s; "
                "try again."
            )
        if "disk is full" in text or "readonly" in text or "unable to open" in text:
            return AgentmuxError(f"cannot write the state database {path}: {text}.")
        if "disk I/O error" in text:
            # A write that failed (a full disk, a file-size limit) is rolled back: the database
            # itself is fine, and moving it aside would lose every session's record.
            return AgentmuxError(
                f"cannot write the state database {path} (disk I/O error: is the disk full?); "
                "nothing was changed."
            )
    return AgentmuxError(
        f"the state database {path} is unreadable ({text}); move it aside and agentmux will start "
        "a new one (your worktrees and branches are untouched)."
    )


class StateStore:
    """Sessions and their events for one repository."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.parent.chmod(0o700)
            if not path.exists():
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as exc:
            raise AgentmuxError(
                f"cannot create the state database {path}: {exc.strerror}."
            ) from exc
        try:
            self._db = sqlite3.connect(
                path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA busy_timeout = 30000")
            # Switching to WAL and migrating need the database to themselves: several agentmux
            # processes opening a new database at once would otherwise fail with "locked".
            with repo_lock(path.with_name(path.name + ".init-lock")):
                self._db.execute("PRAGMA journal_mode = WAL")
                self._migrate()
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as exc:
            raise _corrupt(path, exc) from exc

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise AgentmuxError(
                f"the state database {self.path} was written by a newer agentmux "
                f"(schema {version}); upgrade agentmux."
            )
        if version < SCHEMA_VERSION:
            with self.transaction() as db:
                for target, script in enumerate(_MIGRATIONS, start=1):
                    if version < target:
                        for statement in script.split(";"):
                            if statement.strip():
                                db.execute(statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the database's write lock up front."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.DatabaseError as exc:
                raise _corrupt(self.path, exc) from exc
            try:
                yield self._db
            except BaseException:
                # SQLite may have rolled back already (disk full, I/O error): keep the real error.
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise
            try:
                self._db.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise _corrupt(self.path, exc) from exc

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:
                raise _corrupt(self.path, exc) from exc

    def integrity(self) -> str:
        """SQLite's integrity check result (``ok`` when healthy)."""
        rows = self._query("PRAGMA integrity_check")
        return ", ".join(str(row[0]) for row in rows)

    def get_meta(self, key: str) -> str | None:
        """A repository-wide setting recorded in the database."""
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        """Record ``value`` under ``key``, replacing any value recorded before."""
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def set_meta_once(self, key: str, value: str) -> str:
        """Record ``value`` under ``key`` unless one is recorded already; return the one kept."""
        known = self.get_meta(key)
        if known is not None:
            return known  # the common case: no write lock, so no wait behind other writers
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0])

    # --- sessions -------------------------------------------------------------------------------

    def insert_session(self, record: SessionRecord, argv: list[str], prompt: bytes | None) -> None:
        """Add a new session; fails with a clear error when its name is taken."""
        values = _record_row(record)
        values["argv"] = json.dumps(argv)
        values["prompt"] = prompt
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        try:
            with self.transaction() as db:
                db.execute(
                    f"INSERT INTO sessions ({columns}) VALUES ({marks})",  # noqa: S608 - column names from the dataclass
                    tuple(values.values()),
                )
                _insert_event(
                    db, record.id, "created", {"name": record.name, "agent": record.agent}
                )
        except sqlite3.IntegrityError as exc:
            raise AgentmuxError(f"a session named {record.name!r} already exists.") from exc

    def update_session(
        self,
        session_id: str,
        event: str | None = None,
        data: dict[str, Any] | None = None,
        **changes: Any,
    ) -> None:
        """Change fields of a session (``argv``: its agent command line, as a list) and record
        ``event`` in the same transaction."""
        unknown = set(changes) - _RECORD_FIELDS - {"prompt", "argv"}
        if unknown:
            raise ValueError(f"unknown session fields: {sorted(unknown)}")
        if "argv" in changes:
            changes["argv"] = json.dumps(list(changes["argv"]))
        with self.transaction() as db:
            if changes:
                sets = ", ".join(f"{key} = ?" for key in changes)
                params = [str(v) if isinstance(v, Status) else v for v in changes.values()]
                # Column names are checked against the dataclass above; values are bound parameters.
                db.execute(f"UPDATE sessions SET {sets} WHERE id = ?", (*params, session_id))  # noqa: S608
            if event:
                _insert_event(db, session_id, event, data or {})

    def delete_session(self, session_id: str) -> None:
        """Forget a session that never came to exist (rollback of a failed ``new``)."""
        with self.transaction() as db:
            db.execute("DELETE FROM events WHERE session_id = ?", (session_id,))
            db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    def claim_prompt(self, session_id: str) -> bytes | None:
        """Take the pending prompt atomically, so two processes never both deliver it."""
        with self.transaction() as db:
            row = db.execute("SELECT prompt FROM sessions WHERE id = ?", (session_id,)).fetchone()
            if row is None or row[0] is None:
                return None
            db.execute("UPDATE sessions SET prompt = NULL WHERE id = ?", (session_id,))
            return bytes(row[0])

    def record_event(self, session_id: str, kind: str, data: dict[str, Any] | None = None) -> None:
        """Append an event to a session's history."""
        with self.transaction() as db:
            _insert_event(db, session_id, kind, data or {})

    def sessions(self, include_removed: bool = False) -> list[SessionRecord]:
        """Sessions in creation order."""
        where = "" if include_removed else "WHERE removed_at IS NULL"
        rows = self._query(f"SELECT * FROM sessions {where} ORDER BY created_at, rowid")  # noqa: S608
        return [_row_record(row) for row in rows]

    def session_by_name(self, name: str) -> SessionRecord | None:
        """The live (not removed) session called ``name``."""
        rows = self._query("SELECT * FROM sessions WHERE name = ? AND removed_at IS NULL", (name,))
        return _row_record(rows[0]) if rows else None

    def session(self, session_id: str) -> SessionRecord:
        """A session by id."""
        rows = self._query("SELECT * FROM sessions WHERE id = ?", (session_id,))
        if not rows:
            raise AgentmuxError(f"no session with id {session_id}.")
        return _row_record(rows[0])

    # --- sessions on other hosts -----------------------------------------------------------------

    def insert_remote(self, host: str, clone: str, row: dict[str, Any]) -> None:
        """Remember a session another host's agentmux just made (its ``new --json`` row)."""
        now = time.time()
        try:
            with self.transaction() as db:
                db.execute(
                    "INSERT INTO remote_sessions (id, host, name, clone, row, created_at, "
                    "checked_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (row["id"], host, row["name"], clone, json.dumps(row), now, now),
                )
        except sqlite3.IntegrityError as exc:
            raise AgentmuxError(f"a session named {row['name']!r} already exists.") from exc

    def update_remote(
        self,
        session_id: str,
        *,
        row: dict[str, Any] | None = None,
        reachable: bool | None = None,
        removed_at: float | None = None,
    ) -> None:
        """Record what was heard of a session on another host (or that its host was not
        reached)."""
        self.update_remotes([RemoteUpdate(session_id, row, reachable, removed_at)])

    def update_remotes(self, updates: Sequence[RemoteUpdate]) -> None:
        """Record one host's answer about its sessions in one transaction (one write for the
        state directory's watchers, not one per session)."""
        if not updates:
            return
        now = time.time()
        with self.transaction() as db:
            for update in updates:
                sets = ["checked_at = ?"]
                params: list[Any] = [now]
                if update.row is not None:
                    sets.append("row = ?")
                    params.append(json.dumps(update.row))
                if update.reachable is not None:
                    sets.append("reachable = ?")
                    params.append(int(update.reachable))
                if update.removed_at is not None:
                    sets.append("removed_at = ?")
                    params.append(update.removed_at)
                db.execute(
                    f"UPDATE remote_sessions SET {', '.join(sets)} WHERE id = ?",  # noqa: S608 - fixed column names
                    (*params, update.session_id),
                )

    def remote_sessions(self, include_removed: bool = False) -> list[RemoteRow]:
        """Sessions on other hosts, in creation order."""
        where = "" if include_removed else "WHERE removed_at IS NULL"
        rows = self._query(f"SELECT * FROM remote_sessions {where} ORDER BY created_at, rowid")  # noqa: S608
        return [_remote_row(row) for row in rows]

    def remote_by_name(self, name: str) -> RemoteRow | None:
        """The live session on another host called ``name``."""
        rows = self._query(
            "SELECT * FROM remote_sessions WHERE name = ? AND removed_at IS NULL", (name,)
        )
        return _remote_row(rows[0]) if rows else None

    def remote_by_id(self, session_id: str) -> RemoteRow | None:
        """The session on another host with this id (removed or not)."""
        rows = self._query("SELECT * FROM remote_sessions WHERE id = ?", (session_id,))
        return _remote_row(rows[0]) if rows else None

    def argv(self, session_id: str) -> list[str]:
        """The agent command line stored for a session."""
        rows = self._query("SELECT argv FROM sessions WHERE id = ?", (session_id,))
        return list(json.loads(rows[0][0])) if rows else []

    def last_event(self, session_id: str, kind: str) -> dict[str, Any] | None:
        """The newest event of one kind for one session, or None."""
        rows = self._query(
            "SELECT session_id, ts, kind, data FROM events WHERE session_id = ? AND kind = ? "
            "ORDER BY id DESC LIMIT 1",
            (session_id, kind),
        )
        if not rows:
            return None
        r = rows[0]
        return {"session_id": r[0], "ts": r[1], "kind": r[2], "data": json.loads(r[3])}

    def events(
        self, session_id: str | None = None, kinds: tuple[str, ...] = (), after_id: int = 0
    ) -> list[dict[str, Any]]:
        """Events, oldest first, for one session or all, of the given kinds or all; with
        ``after_id``, only those recorded after that event (each carries its ``id``)."""
        where: list[str] = ["id > ?"]
        params: tuple[Any, ...] = (after_id,)
        if session_id is not None:
            where.append("session_id = ?")
            params += (session_id,)
        if kinds:
            where.append(f"kind IN ({', '.join('?' * len(kinds))})")
            params += kinds
        clauses = " AND ".join(where)  # fixed text and "?" placeholders only
        sql = f"SELECT id, session_id, ts, kind, data FROM events WHERE {clauses} ORDER BY id"  # noqa: S608
        rows = self._query(sql, params)
        return [
            {"id": r[0], "session_id": r[1], "ts": r[2], "kind": r[3], "data": json.loads(r[4])}
            for r in rows
        ]


@dataclass(frozen=True)
class RemoteUpdate:
    """What was heard of one session on another host: its new row, whether its host was
    reached, when it was removed there (None: unchanged)."""

    session_id: str
    row: dict[str, Any] | None = None
    reachable: bool | None = None
    removed_at: float | None = None


@dataclass(frozen=True)
class RemoteRow:
    """A session on another host as last heard of: its host's ``ls --json`` row."""

    id: str
    host: str
    name: str
    clone: str
    row: dict[str, Any]
    reachable: bool
    created_at: float
    checked_at: float
    removed_at: float | None


def _remote_row(row: sqlite3.Row) -> RemoteRow:
    return RemoteRow(
        id=row["id"],
        host=row["host"],
        name=row["name"],
        clone=row["clone"],
        row=json.loads(row["row"]),
        reachable=bool(row["reachable"]),
        created_at=row["created_at"],
        checked_at=row["checked_at"],
        removed_at=row["removed_at"],
    )


def _insert_event(db: sqlite3.Connection, session_id: str, kind: str, data: dict[str, Any]) -> None:
    db.execute(
        "INSERT INTO events (session_id, ts, kind, data) VALUES (?, ?, ?, ?)",
        (session_id, time.time(), kind, json.dumps(data)),
    )


def _record_row(record: SessionRecord) -> dict[str, Any]:
    row = {f.name: getattr(record, f.name) for f in fields(SessionRecord)}
    row.pop("prompt_pending")
    row["status"] = str(record.status)
    return row


def _row_record(row: sqlite3.Row) -> SessionRecord:
    values = {key: row[key] for key in row.keys() if key in _RECORD_FIELDS}  # noqa: SIM118
    values["status"] = Status(values["status"])
    values["prompt_pending"] = row["prompt"] is not None
    return SessionRecord(**values)
