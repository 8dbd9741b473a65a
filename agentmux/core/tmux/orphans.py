"""Agents running untagged, found again by their tmux session's name and their worktree.

agentmux tags a session's pane with the session's id in the same tmux invocation that makes it, so
no agent of this version runs untagged. An older agentmux killed (``kill -9``) between making the
pane and tagging it left one, which it then called ``lost``: a plain ``rm`` could then delete the
worktree under the live agent. Such an orphan is adopted when it can be matched safely: it is in
the tmux session named as a session that is ``starting`` or ``lost``, and its pane was started in
that session's worktree. Anything else untagged (a pane the user made on agentmux's server) is
left alone.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Sequence

from agentmux.core.records import SessionRecord, Status
from agentmux.core.tmux.server import HIDDEN_PREFIX, PaneInfo, TmuxServer

ORPHAN_STATUSES = (Status.STARTING, Status.LOST)


def adopt_orphans(
    tmux: TmuxServer, records: Iterable[SessionRecord], panes: Sequence[PaneInfo]
) -> list[tuple[SessionRecord, PaneInfo]]:
    """Tag each untagged agent pane that belongs to one of ``records``; the pairs tagged."""
    tagged = {pane.agentmux_id for pane in panes if pane.agentmux_id}
    wanted = {r.name: r for r in records if r.status in ORPHAN_STATUSES and r.id not in tagged}
    adopted: list[tuple[SessionRecord, PaneInfo]] = []
    for pane in panes:
        record = wanted.get(pane.session_name)
        if record is None or pane.agentmux_id or pane.session_name.startswith(HIDDEN_PREFIX):
            continue
        if not _same_dir(start_dir(pane), record.worktree):
            continue
        # Tagged only if it is still untagged, checked by tmux in the same step.
        if tmux.tag_untagged(pane.pane_id, record.id):
            adopted.append((record, pane))
            del wanted[pane.session_name]
    return adopted


def start_dir(pane: PaneInfo) -> str | None:
    """Where the pane's process was started: tmux's record (when this tmux keeps one), else its
    process's cwd (the pane's ``sh`` wrapper never changes directory)."""
    import psutil  # noqa: PLC0415 - loaded only where a process is looked at

    if pane.start_path:
        return pane.start_path
    if pane.pane_pid is None:
        return None
    with contextlib.suppress(psutil.Error):
        return str(psutil.Process(pane.pane_pid).cwd())
    return None


def _same_dir(path: str | None, worktree: str) -> bool:
    if not path:
        return False
    try:
        return os.path.samefile(path, worktree)
    except OSError:
        return False
