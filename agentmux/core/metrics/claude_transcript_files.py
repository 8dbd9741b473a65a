"""Where Claude Code keeps a session's transcripts.

A session's transcript is ``<config>/projects/<encoded cwd>/<session id>.jsonl`` (config:
``CLAUDE_CONFIG_DIR``, else ``~/.claude``), and each subagent it ran writes
``<session id>/subagents/*.jsonl`` beside it: real spend of the same session. The bundled demo
agent writes the same files in the same places.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path


def claude_config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Claude Code's configuration directory: ``CLAUDE_CONFIG_DIR``, else ``~/.claude``."""
    env = os.environ if environ is None else environ
    configured = env.get("CLAUDE_CONFIG_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".claude"


def find_session_files(session_id: str, config_dir: Path | None = None) -> list[Path]:
    """Every transcript file of one session: its main file(s), then its subagents' files.

    Found by session id across all project directories, since different working directories can
    encode to the same directory name.
    """
    mains = find_main_files(session_id, config_dir)
    subs: list[Path] = []
    for main in mains:
        subs.extend(subagent_files(main))
    return mains + subs


def find_main_files(session_id: str, config_dir: Path | None = None) -> list[Path]:
    """The session's main transcript file(s), ``<config>/projects/*/<session id>.jsonl``."""
    root = (config_dir or claude_config_dir()) / "projects"
    return sorted(root.glob(f"*/{glob_escape(session_id)}.jsonl"))


def glob_escape(text: str) -> str:
    """``text`` with glob metacharacters made literal."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def subagent_files(main: Path) -> list[Path]:
    """The transcripts of the subagents the session of ``main`` ran, in name order."""
    folder = main.with_suffix("") / "subagents"
    try:
        names = [entry.name for entry in os.scandir(folder) if entry.name.endswith(".jsonl")]
    except OSError:
        return []
    return [folder / name for name in sorted(names)]
