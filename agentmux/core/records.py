"""The session record as stored and as shown: one dataclass, its statuses, its JSON form."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

#: The host of every session today: the machine agentmux runs on (see :mod:`agentmux.core.host`).
LOCAL_HOST = "local"


class Status(StrEnum):
    """Lifecycle of a session as agentmux records it."""

    QUEUED = "queued"  # waiting for a free slot (max_sessions)
    STARTING = "starting"  # tmux session being created
    RUNNING = "running"  # agent process alive
    EXITED = "exited"  # agent process ended by itself; exit status known
    STOPPED = "stopped"  # ended or dequeued by `agentmux stop`
    LOST = "lost"  # its tmux session or server vanished (reboot, kill-server)
    REMOVED = "removed"  # worktree removed; the record is kept for history
    UNREACHABLE = "unreachable"  # on another host that cannot be reached now (not lost)

    @property
    def is_live(self) -> bool:
        """Whether the session holds (or is about to hold) a slot."""
        return self in (Status.STARTING, Status.RUNNING)


@dataclass(frozen=True)
class SessionRecord:
    """One agent session, as kept in the state database."""

    id: str
    name: str
    agent: str
    agent_kind: str
    agent_session_id: str
    branch: str
    worktree: str
    base_ref: str
    base_commit: str
    status: Status
    created_at: float
    queued_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    exit_status: int | None = None
    exit_signal: int | None = None
    removed_at: float | None = None
    tmux_session_id: str | None = None
    tmux_window_id: str | None = None
    tmux_pane_id: str | None = None
    archive_ref: str | None = None
    prompt_pending: bool = False
    host: str = LOCAL_HOST  # the machine the session runs on

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of ``agentmux ls --json`` (times as ISO 8601 UTC)."""
        data = asdict(self)
        data["status"] = str(self.status)
        for key in ("created_at", "queued_at", "started_at", "ended_at", "removed_at"):
            data[key.removesuffix("_at")] = iso(data.pop(key))
        data["tmux"] = {
            "session_id": data.pop("tmux_session_id"),
            "window_id": data.pop("tmux_window_id"),
            "pane_id": data.pop("tmux_pane_id"),
        }
        return data


def iso(ts: float | None) -> str | None:
    """A UNIX time as ISO 8601 in UTC, or None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="seconds")


def parse_iso(text: str | None) -> float | None:
    """An ISO 8601 time (as :func:`iso` writes it) as a UNIX time, or None."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def record_from_json(data: dict[str, Any], host: str) -> SessionRecord:
    """The record of a session on ``host`` from that host's ``ls --json`` row (the inverse of
    :meth:`SessionRecord.to_json`); a KeyError or ValueError when the row is not one."""
    tmux = data.get("tmux") or {}
    optional_int = {
        key: (int(data[key]) if data.get(key) is not None else None)
        for key in ("exit_status", "exit_signal")
    }
    return SessionRecord(
        id=str(data["id"]),
        name=str(data["name"]),
        agent=str(data["agent"]),
        agent_kind=str(data["agent_kind"]),
        agent_session_id=str(data["agent_session_id"]),
        branch=str(data["branch"]),
        worktree=str(data["worktree"]),
        base_ref=str(data["base_ref"]),
        base_commit=str(data["base_commit"]),
        status=Status(data["status"]),
        created_at=parse_iso(data.get("created")) or 0.0,
        queued_at=parse_iso(data.get("queued")),
        started_at=parse_iso(data.get("started")),
        ended_at=parse_iso(data.get("ended")),
        removed_at=parse_iso(data.get("removed")),
        tmux_session_id=tmux.get("session_id"),
        tmux_window_id=tmux.get("window_id"),
        tmux_pane_id=tmux.get("pane_id"),
        archive_ref=data.get("archive_ref"),
        prompt_pending=bool(data.get("prompt_pending", False)),
        host=host,
        **optional_int,
    )


#: Where the refs of sessions on host ``<host>`` are kept in the local repository.
HOSTS_REFS = "refs/agentmux/hosts"


def host_ref(host: str, ref: str) -> str:
    """The local ref that holds host ``host``'s ``ref`` (``refs/heads/x`` ->
    ``refs/agentmux/hosts/<host>/heads/x``)."""
    return f"{HOSTS_REFS}/{host}/{ref.removeprefix('refs/')}"


def branch_ref(record: SessionRecord) -> str:
    """The local ref of the session's branch: ``refs/heads/<branch>`` for a session on this
    machine, the copy fetched from its host for one on another."""
    ref = f"refs/heads/{record.branch}"
    return ref if record.host == LOCAL_HOST else host_ref(record.host, ref)
