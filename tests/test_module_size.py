"""No module in agentmux/ is over 500 lines: a longer one holds more than one concept."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "agentmux"
LIMIT = 500


def oversized(package: Path, limit: int = LIMIT) -> list[str]:
    """``path: lines`` of every ``.py`` under ``package`` longer than ``limit`` lines, longest
    first."""
    sizes = {
        path: len(path.read_text(encoding="utf-8").splitlines()) for path in package.rglob("*.py")
    }
    return [
        f"{path.relative_to(package.parent)}: {lines}"
        for path, lines in sorted(sizes.items(), key=lambda item: -item[1])
        if lines > limit
    ]


def test_no_module_is_over_500_lines() -> None:
    offenders = oversized(PACKAGE)
    assert not offenders, (
        f"modules over {LIMIT} lines (split each by concept into new modules): "
        + ", ".join(offenders)
    )


def test_the_check_sees_every_module_and_counts_lines(tmp_path: Path) -> None:
    assert len(list(PACKAGE.rglob("*.py"))) > 50  # the real package, not an empty directory
    package = tmp_path / "pkg"
    (package / "room").mkdir(parents=True)
    (package / "room" / "small.py").write_text("x = 1\n" * LIMIT)
    (package / "room" / "big.py").write_text("x = 1\n" * (LIMIT + 1))
    assert oversized(package) == [f"pkg/room/big.py: {LIMIT + 1}"]
