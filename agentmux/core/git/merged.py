"""What earlier merges recorded about a session, for later merges and for removal.

A plain merge makes the session's commits reachable from the target branch, so git alone can tell
they are merged. A squash merge does not: the target gets one new commit and the session's commits
stay outside it. The ``merged`` event agentmux records (target, the session's tip, the squash flag)
is what says those commits are in. So it does on a host for a session merged in another
repository (the one that drives the host from another machine, ``elsewhere``): whatever the
merge, its target is not in the host's clone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from agentmux.core.git import repo as git
from agentmux.core.git.reachability import commits_not_in
from agentmux.core.git.safety import WorkAtRisk
from agentmux.core.state import StateStore

MERGED_EVENT = "merged"


@dataclass(frozen=True)
class SquashMerge:
    """The newest squash merge of one session: the branch it went into and the tip it took."""

    into: str
    tip: str


def merged_event_data(
    into: str, tip: str, commit: str, squash: bool, *, elsewhere: bool = False
) -> dict[str, Any]:
    """The data of a ``merged`` event (``commit`` is the target's new head; ``elsewhere``: it
    landed in another repository, so ``into`` is not a branch here)."""
    data: dict[str, Any] = {"into": into, "tip": tip, "commit": commit, "squash": squash}
    if elsewhere:
        data["elsewhere"] = True
    return data


def last_squash_merge(store: StateStore, session_id: str) -> SquashMerge | None:
    """The session's newest squash merge (or merge landed elsewhere: its commits are not
    reachable here either), or None when its newest merge was a plain one here."""
    event = store.last_event(session_id, MERGED_EVENT)
    if event is None:
        return None
    data = event["data"]
    taken = data.get("squash") or data.get("elsewhere")
    if not taken or not isinstance(data.get("tip"), str):
        return None
    return SquashMerge(str(data.get("into", "")), data["tip"])


def squash_merged_into(repo: git.Repo, squash: SquashMerge | None, tip: str) -> str | None:
    """The branch a squash merge already holds ``tip``'s work in (``tip`` is the recorded tip or
    an ancestor of it: no newer commit), or None."""
    if squash is None:
        return None
    if tip == squash.tip or not commits_not_in(repo, [tip], squash.tip):
        return squash.into
    return None


def without_squash_merged(
    repo: git.Repo, risk: WorkAtRisk, squash: SquashMerge | None
) -> WorkAtRisk:
    """``risk`` less the commits a squash merge put into its target (they are merged, not lost);
    commits made after that merge stay at risk."""
    if squash is None or not risk.unmerged_commits:
        return risk
    lines = "".join(f"{c}\n" for c in risk.unmerged_commits) + f"^{squash.tip}\n"
    proc = git.run_git(["rev-list", "--stdin"], repo.root, stdin=lines.encode(), check=False)
    if proc.returncode != 0:  # the recorded tip is gone (gc'd after a history rewrite)
        return risk
    newer = set(proc.stdout.decode().split())
    left = [c for c in risk.unmerged_commits if c in newer]
    return replace(risk, unmerged_commits=left)


def record_merged(store: StateStore, session_id: str, data: dict[str, Any]) -> None:
    """Record a ``merged`` event, unless the same one is already there (finishing an interrupted
    landing records what the killed run may have recorded already)."""
    seen = store.events(session_id, kinds=(MERGED_EVENT,))
    if not any(event["data"] == data for event in seen):
        store.record_event(session_id, MERGED_EVENT, data)
