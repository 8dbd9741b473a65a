"""Trust in a repository's ``agentmux.toml``, as direnv's ``allow``: a file is trusted when the
user approved its exact bytes (their sha256, recorded with its path in the user's state
directory); a changed file is untrusted again. Until then only its safe settings apply.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agentmux.core.errors import AgentmuxError
from agentmux.core.locking import repo_lock
from agentmux.core.paths import ensure_private_dir, state_dir

TRUST_FILE = "trusted.json"
TRUST_VERSION = 1
TRUST_COMMAND = "agentmux trust"
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def store_path() -> Path:
    """Where the user's trust records live: ``$XDG_STATE_HOME/agentmux/trusted.json``."""
    return state_dir() / TRUST_FILE


def digest(data: bytes) -> str:
    """The sha256 of a file's exact bytes, as recorded."""
    return hashlib.sha256(data).hexdigest()


def key_of(path: Path) -> str:
    """The path a record is kept under: absolute, its directory resolved (the file itself is
    not: a symlink is trusted as the link, its content by the hash)."""
    return str(path.parent.resolve() / path.name)


def _read(path: Path) -> dict[str, Any]:
    """The records, or a one-sentence error when the file is not a trust store we wrote."""
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise AgentmuxError(
            f"{path} is not a trust record agentmux can read ({exc}); move it aside."
        ) from exc
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict) or data.get("version") != TRUST_VERSION:
        raise AgentmuxError(f"{path} is not a trust record agentmux can read; move it aside.")
    return files


def trusted_digest(path: Path) -> str | None:
    """The sha256 recorded for ``path``, or None. An unreadable store trusts nothing: only the
    safe settings apply until ``agentmux trust`` says what is wrong with it."""
    try:
        record = _read(store_path()).get(key_of(path))
    except AgentmuxError:
        return None
    return record.get("sha256") if isinstance(record, dict) else None


def _update(change: Mapping[str, dict[str, str] | None]) -> None:
    """Apply ``change`` (path -> record, or None to drop) to the store, atomically, 0600."""
    store = store_path()
    ensure_private_dir(store.parent)
    with repo_lock(store.with_name(f"{TRUST_FILE}.lock")):
        files = _read(store)
        for key, record in change.items():
            if record is None:
                files.pop(key, None)
            else:
                files[key] = record
        tmp = store.with_name(f"{TRUST_FILE}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"version": TRUST_VERSION, "files": files}, handle, indent=2)
        tmp.replace(store)


def trust(path: Path, sha256: str) -> None:
    """Record that the user trusts ``path`` with exactly this content."""
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    _update({key_of(path): {"sha256": sha256, "trusted_at": when}})


def revoke(path: Path) -> bool:
    """Forget the trust in ``path``; True when there was any."""
    had = key_of(path) in _read(store_path())
    _update({key_of(path): None})
    return had


def show_key(key: str) -> str:
    """A settings key from an untrusted file, safe to print: quoted unless plain."""
    return key if _PLAIN_KEY.fullmatch(key) else json.dumps(key)


def flatten(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """``(dotted.key, value)`` for every leaf, values as JSON (control characters escaped)."""
    for key, value in data.items():
        name = f"{prefix}{show_key(key)}"
        if isinstance(value, dict):
            yield from flatten(value, f"{name}.")
        else:
            yield name, json.dumps(value)


@dataclass(frozen=True)
class RepoTrust:
    """How a repository's ``agentmux.toml`` was applied.

    ``state``: ``safe`` (nothing in it needs trust), ``trusted``, or ``untrusted`` (its
    ``ignored`` settings were left out; ``agents`` are the agents it defines).
    """

    path: Path
    sha256: str
    state: Literal["safe", "trusted", "untrusted"]
    ignored: tuple[str, ...] = ()
    agents: frozenset[str] = field(default_factory=frozenset)

    @property
    def notice(self) -> str | None:
        """One sentence for every command that would have used the ignored settings."""
        if self.state != "untrusted":
            return None
        what = ", ".join(self.ignored)
        return (
            f"{self.path} is not trusted, so its {what} setting(s) are ignored; "
            f"review it and run `{TRUST_COMMAND}` to use them."
        )

    def doctor_line(self) -> tuple[Literal["ok", "warn"], str]:
        """The level and text of ``doctor``'s trust line."""
        if self.state == "safe":
            return "ok", f"{self.path}: only settings that need no trust"
        if self.state == "trusted":
            return "ok", f"{self.path}: trusted (sha256 {self.sha256[:12]})"
        return "warn", (
            f"{self.path} is not trusted: its {', '.join(self.ignored)} setting(s) are ignored "
            f"until you review it and run `{TRUST_COMMAND}`"
        )
