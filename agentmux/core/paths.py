"""Where agentmux keeps things on disk, following the XDG base directory conventions."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


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

    Kept short on purpose: a Unix socket path is limited to about 104 bytes, so it cannot live under
    a deep repository path. ``AGENTMUX_SOCKET_DIR`` overrides it.
    """
    override = os.environ.get("AGENTMUX_SOCKET_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_RUNTIME_DIR") or os.environ.get("TMUX_TMPDIR") or "/tmp"
    return Path(base) / f"agentmux-{os.getuid()}"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) with mode 0700 for the last component; return it."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path
