"""Three-way merges without a worktree: ``git merge-tree --write-tree`` and what it reports.

git >= 2.38 performs the real merge (the same ``ort`` strategy as ``git merge``) and writes the
result tree, with conflict markers in conflicted files, to the object store; nothing is checked out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from agentmux.core.git.repo import GitError


class ConflictKind(StrEnum):
    """Why a file does not merge cleanly."""

    CONTENT = "content"
    ADD_ADD = "add/add"
    MODIFY_DELETE = "modify/delete"
    RENAME = "rename"
    BINARY = "binary"
    FILE_DIRECTORY = "file/directory"
    OTHER = "other"


# More specific kinds win when git reports several for one path (binary files also get "contents").
_PRECEDENCE = list(ConflictKind)
_RENAME_TYPES = (
    "rename/delete",
    "rename/rename",
    "rename involved in collision",
    "file location",
    "directory rename split",
    "implicit dir rename",
)


@dataclass(frozen=True)
class FileConflict:
    """One file that would not merge cleanly."""

    path: str
    kind: ConflictKind
    message: str


@dataclass(frozen=True)
class MergeResult:
    """The outcome of merging two commits."""

    clean: bool
    tree: str
    conflicts: tuple[FileConflict, ...] = field(default=())


@dataclass(frozen=True)
class Hunk:
    """One conflicting region of a file: both sides' lines (and the base's, when git shows it)."""

    ours: tuple[str, ...]
    theirs: tuple[str, ...]
    start_line: int


GitRunner = Callable[..., str]


def _kind(conflict_type: str, message: str) -> ConflictKind | None:
    if not conflict_type.startswith("CONFLICT ("):
        return None
    what = conflict_type.removeprefix("CONFLICT (").removesuffix(")")
    if what == "contents":
        return ConflictKind.ADD_ADD if "(add/add)" in message else ConflictKind.CONTENT
    if what == "binary":
        return ConflictKind.BINARY
    if what == "modify/delete":
        return ConflictKind.MODIFY_DELETE
    if what in _RENAME_TYPES:
        return ConflictKind.RENAME
    if what == "file/directory":
        return ConflictKind.FILE_DIRECTORY
    return ConflictKind.OTHER


def parse_merge_tree(output: bytes, exit_status: int) -> MergeResult:
    """Parse ``git merge-tree --write-tree -z --name-only --messages`` output."""
    if exit_status not in (0, 1):
        raise GitError(f"git merge-tree failed: {output.decode(errors='replace')[-200:]}")
    fields = output.decode(errors="surrogateescape").split("\0")
    tree = fields[0]
    position = 1
    conflicted: list[str] = []
    while position < len(fields) and fields[position]:
        conflicted.append(fields[position])
        position += 1
    position += 1  # the empty field that ends the conflicted-file section
    kinds: dict[str, FileConflict] = {}
    while position < len(fields) and fields[position]:
        count = int(fields[position])
        paths = fields[position + 1 : position + 1 + count]
        conflict_type = fields[position + 1 + count]
        message = fields[position + 2 + count].strip()
        position += count + 3
        kind = _kind(conflict_type, message)
        if kind is None:
            continue
        for path in paths:
            seen = kinds.get(path)
            if seen is None or _PRECEDENCE.index(kind) > _PRECEDENCE.index(seen.kind):
                kinds[path] = FileConflict(path, kind, message)
    for path in conflicted:
        kinds.setdefault(path, FileConflict(path, ConflictKind.OTHER, "conflict"))
    clean = exit_status == 0
    ordered = tuple(sorted(kinds.values(), key=lambda c: c.path)) if not clean else ()
    return MergeResult(clean=clean, tree=tree, conflicts=ordered)


def merge_args(ours: str, theirs: str) -> list[str]:
    """The merge-tree command line for two commits."""
    return ["merge-tree", "--write-tree", "-z", "--name-only", "--messages", ours, theirs]


def parse_hunks(text: str) -> list[Hunk]:
    """The conflict regions of a file merge-tree left conflict markers in."""
    hunks: list[Hunk] = []
    ours: list[str] = []
    theirs: list[str] = []
    side: str | None = None
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("<<<<<<< ") or line == "<<<<<<<":
            side, ours, theirs, start = "ours", [], [], number
        elif side is not None and (line.startswith("||||||| ") or line == "|||||||"):
            side = "base"
        elif side is not None and line == "=======":
            side = "theirs"
        elif side is not None and (line.startswith(">>>>>>> ") or line == ">>>>>>>"):
            hunks.append(Hunk(tuple(ours), tuple(theirs), start))
            side = None
        elif side == "ours":
            ours.append(line)
        elif side == "theirs":
            theirs.append(line)
    return hunks


def changed_paths(git: GitRunner, base: str, commit: str) -> dict[str, str]:
    """Paths ``commit`` changed since ``base``, each with its status letter (A, D, M, T)."""
    out: str = git(["diff-tree", "-r", "-z", "--no-renames", "--name-status", base, commit])
    fields = out.split("\0")
    return {fields[i + 1]: fields[i][:1] for i in range(0, len(fields) - 1, 2)}


def changed_paths_many(
    git: GitRunner, pairs: Sequence[tuple[str, str]]
) -> list[dict[str, str]] | None:
    """:func:`changed_paths` for many ``(base, commit)`` pairs (full commit ids) in one git process.

    ``git diff-tree --stdin`` reads ``<commit> <parent>`` lines and diffs each commit against the
    given "parent"; ``--always`` prints the commit id (the header) even when nothing changed, so
    the output splits back into one change set per line. ``None`` when the output does not line up
    (then ask one pair at a time).
    """
    if not pairs:
        return []
    lines = "".join(f"{commit} {base}\n" for base, commit in pairs)
    out: str = git(
        ["diff-tree", "--stdin", "--always", "-r", "-z", "--no-renames", "--name-status"],
        stdin=lines.encode(),
    )
    fields = out.split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    found: list[dict[str, str]] = []
    position = 0
    for _, commit in pairs:
        if position >= len(fields) or fields[position] != commit:
            return None
        position += 1
        changes: dict[str, str] = {}
        # A status is one letter; a header is a full object id: they cannot be mistaken.
        while position + 1 < len(fields) and len(fields[position]) == 1:
            changes[fields[position + 1]] = fields[position]
            position += 2
        found.append(changes)
    return found if position == len(fields) else None


def needs_merge(a: dict[str, str], b: dict[str, str]) -> bool:
    """Whether two change sets can interact: a shared path, or a directory one side emptied
    and the other added to (git's directory-rename detection acts on those)."""
    if a.keys() & b.keys():
        return True

    def dirs(changes: dict[str, str], status: str) -> set[str]:
        return {path.rpartition("/")[0] for path, s in changes.items() if s == status}

    return bool(dirs(a, "D") & dirs(b, "A")) or bool(dirs(b, "D") & dirs(a, "A"))
