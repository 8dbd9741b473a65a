"""Property: for random small edit sets in 3-5 sessions, the radar's verdict for every pair is what
an actual ``git merge`` of those two sessions' work does."""

from __future__ import annotations

import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from agentmux.core.git.conflicts import ConflictRadar, Verdict
from agentmux.core.git.repo import discover_repo
from agentmux.core.git.snapshots import SnapshotStore
from agentmux.core.records import SessionRecord, Status
from tests.conftest import git

FILES = ["a.txt", "b.txt", "c.txt", "d/x.txt", "d/y.txt"]
LINES = 6
WORDS = ["alpha", "beta", "gamma"]


@dataclass(frozen=True)
class Edit:
    """One change an agent makes to its worktree."""

    op: str  # "line", "append", "delete", "add", "rename"
    file: int
    line: int
    word: int


edits = st.builds(
    Edit,
    op=st.sampled_from(["line", "line", "append", "delete", "add", "rename"]),
    file=st.integers(0, len(FILES) - 1),
    line=st.integers(0, LINES - 1),
    word=st.integers(0, len(WORDS) - 1),
)
session_edits = st.tuples(st.lists(edits, min_size=1, max_size=3), st.booleans())


def apply(worktree: Path, edit: Edit) -> None:
    path = worktree / FILES[edit.file]
    word = WORDS[edit.word]
    if edit.op == "add":
        target = worktree / f"new-{edit.file % 2}.txt"
        target.write_text(f"{word}\n")
        return
    if not path.exists():
        return
    if edit.op == "line":
        lines = path.read_text().splitlines()
        lines[edit.line % len(lines)] = word
        path.write_text("\n".join(lines) + "\n")
    elif edit.op == "append":
        path.write_text(path.read_text() + f"{word}\n")
    elif edit.op == "delete":
        path.unlink()
    elif edit.op == "rename":
        target = worktree / "moved" / f"{path.stem}-{word}.txt"
        target.parent.mkdir(exist_ok=True)
        path.rename(target)


def record(name: str, worktree: Path, base: str) -> SessionRecord:
    return SessionRecord(
        id=f"id-{name}",
        name=name,
        agent="demo",
        agent_kind="demo",
        agent_session_id="",
        branch=f"agentmux/{name}",
        worktree=str(worktree),
        base_ref="main",
        base_commit=base,
        status=Status.RUNNING,
        created_at=time.time(),
    )


def merges_cleanly(scratch: Path, ours: str, theirs: str) -> bool:
    git(scratch, "checkout", "--quiet", "--detach", "--force", ours)
    merged = subprocess.run(
        ["git", "merge", "--no-edit", "--quiet", theirs],
        cwd=scratch,
        capture_output=True,
        check=False,
    )
    subprocess.run(["git", "merge", "--abort"], cwd=scratch, capture_output=True, check=False)
    return merged.returncode == 0


@settings(
    # Each example is a real repository with 3-5 sessions and every pair merged for real (about
    # 1.5 s): 14 fit the suite's time budget.
    max_examples=14,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sessions=st.lists(session_edits, min_size=3, max_size=5))
def test_radar_verdicts_equal_real_merges(sessions: list[tuple[list[Edit], bool]]) -> None:
    with tempfile.TemporaryDirectory(prefix="amx-prop-") as tmp:
        root = Path(tmp) / "repo"
        root.mkdir()
        git(root, "init", "--quiet", "--initial-branch=main")
        for name in FILES:
            (root / name).parent.mkdir(exist_ok=True)
            (root / name).write_text("".join(f"{name} line {i}\n" for i in range(LINES)))
        git(root, "add", "--all")
        git(root, "commit", "--quiet", "-m", "base")
        base = git(root, "rev-parse", "HEAD")
        records = []
        for number, (changes, committed) in enumerate(sessions):
            name = f"s{number}"
            worktree = Path(tmp) / name
            git(root, "worktree", "add", "--quiet", "-b", f"agentmux/{name}", str(worktree))
            for edit in changes:
                apply(worktree, edit)
            if committed:  # the rest stay uncommitted and untracked
                git(worktree, "add", "--all")
                git(worktree, "commit", "--quiet", "--allow-empty", "-m", "work")
            records.append(record(name, worktree, base))

        repo = discover_repo(root)
        radar = ConflictRadar(SnapshotStore(repo, Path(tmp) / "store"))
        report = radar.scan(records)

        tips = {}
        for rec, state in zip(records, report.sessions, strict=True):
            worktree = Path(rec.worktree)
            git(worktree, "add", "--all")
            git(worktree, "commit", "--quiet", "--allow-empty", "-m", "everything")
            assert state.snapshot is not None
            snapshot_tree = radar.store.git(["rev-parse", f"{state.snapshot}^{{tree}}"])
            assert git(worktree, "rev-parse", "HEAD^{tree}") == snapshot_tree
            tips[rec.name] = git(worktree, "rev-parse", "HEAD")
        scratch = Path(tmp) / "scratch"
        git(root, "worktree", "add", "--quiet", "--detach", str(scratch), base)
        for pair in report.pairs:
            event(f"verdict {pair.verdict}")
            clean = merges_cleanly(scratch, tips[pair.a], tips[pair.b])
            assert (pair.verdict is not Verdict.CONFLICT) == clean, (pair, sessions)
