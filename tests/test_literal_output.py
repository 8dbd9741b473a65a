"""User data is printed literally: paths, file names and agent commands with Rich markup or
emoji codes in them come out as they are, and never end in an internal error."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import CliResult, git, run_cli


def make_repo(root: Path) -> Path:
    root.mkdir(parents=True)
    git(root, "init", "--quiet", "--initial-branch=main")
    (root / "README.md").write_text("hello\n")
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "-m", "initial [b]commit[/b]")
    return root


def ok(result: CliResult) -> CliResult:
    assert result.code == 0, result.err
    assert "internal error" not in result.err
    return result


def test_conflicts_in_a_repository_under_a_path_with_a_colon(tmp_path: Path) -> None:
    # git reads GIT_ALTERNATE_OBJECT_DIRECTORIES as a colon-separated list.
    repo = make_repo(tmp_path / "work:tree" / "proj")
    made = []
    for name in ("one", "two"):
        ok(run_cli(repo, "new", "--agent", "demo", "--name", name))
        made.append(Path(json.loads(ok(run_cli(repo, "ls", "--json")).out)[-1]["worktree"]))
    for where in made:
        (where / "README.md").write_text(f"{where.name}\n")
    result = run_cli(repo, "conflicts", "--json")
    assert result.code == 1, result.out
    pair = json.loads(result.out)["pairs"][0]
    assert pair["verdict"] == "conflict", pair
