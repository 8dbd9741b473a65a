"""Where agentmux keeps things on disk, following the XDG base directory conventions."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from agentmux.core.errors import AgentmuxError

# The state store's key for the socket path a session has started on.
SOCKET_META = "tmux_socket"
# A Unix socket's path must fit sockaddr_un.sun_path: 108 bytes with the terminating NUL.
MAX_SOCKET_PATH = 107


def _xdg(var: str, default: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path.home() / default


def config_dir() -> Path:
    """The user's agentmux config directory (``$XDG_CONFIG_HOME/agentmux``)."""
    return _xdg("XDG_CONFIG_HOME", ".config") / "agentmux"


def data_dir() -> Path:
    """The user's agentmux data directory (``$XDG_DATA_HOME/agentmux``)."""
    return _xdg("XDG_DATA_HOME", ".local/share") / "agentmux"


def state_dir() -> Path:
    """The user's agentmux state directory (``$XDG_STATE_HOME/agentmux``): logs."""
    return _xdg("XDG_STATE_HOME", ".local/state") / "agentmux"


def repo_key(common_dir: Path) -> str:
    """A short stable key for a repository, from its git common dir."""
    return hashlib.sha256(str(common_dir.resolve()).encode()).hexdigest()[:12]


def socket_dir() -> Path:
    """Directory of agentmux's private tmux sockets.

    Kept short on purpose: a Unix socket path is limited to 107 bytes, so it cannot live under a
    deep repository path. ``AGENTMUX_SOCKET_DIR`` overrides it.
    """
    override = os.environ.get("AGENTMUX_SOCKET_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_RUNTIME_DIR") or os.environ.get("TMUX_TMPDIR") or "/tmp"
    return Path(base) / f"agentmux-{os.getuid()}"


def fits_socket(path: str) -> bool:
    """Whether ``path`` is short enough to be a Unix socket's."""
    return len(os.fsencode(path)) <= MAX_SOCKET_PATH


def socket_path(key: str, saved: str | None) -> Path:
    """The tmux socket of the repository keyed ``key``: the one ``saved`` once a session started
    on it, else the one the environment names now; a clear error when it cannot be a socket.

    A saved path that is too long never worked (older agentmux saved it before trying it), so
    it is passed over.
    """
    if saved and fits_socket(saved):
        return Path(saved)
    path = socket_dir() / f"{key}.sock"
    size = len(os.fsencode(str(path)))
    if size > MAX_SOCKET_PATH:
        raise AgentmuxError(
            f"the tmux socket path {path} is {size} bytes, longer than the {MAX_SOCKET_PATH} a "
            "Unix socket allows; set AGENTMUX_SOCKET_DIR to a short directory (e.g. /tmp/amx)."
        )
    return path


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) with mode 0700 for the last component; return it."""
    path.mkdir(parents=True, exist_ok=True)
    if path.stat().st_mode & 0o777 != 0o700:
        # Only when it differs: a chmod is a change the state directory's watchers would see.
        path.chmod(0o700)
    return path
