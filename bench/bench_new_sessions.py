"""Time creating 9 agentmux sessions against 9 bare `git worktree add` calls, in the same run.

The repository has 10,000 files (packed, as real history is). Every round copies it afresh for
each contender, flushes the page cache writeback, then times:

- baseline: 9 x `git worktree add -b`;
- API: 9 x `SessionManager.create` (what the TUI does), with `cat` as the agent so the figure is
  agentmux's own cost, and again with the bundled demo agent (a Python program whose start-up,
  ~0.1 s of CPU each, competes for the cores);
- CLI: one `agentmux new --count 9`, and 9 separate `agentmux new` processes.

It runs on tmpfs (/dev/shm) by default: this machine's disk made the same baseline vary 4x.
Prints medians, the ratio to the baseline of the same run, and every round's ratio.

    .venv/bin/python bench/bench_new_sessions.py [--files 10000] [--sessions 9] [--rounds 5]
        [--record [PATH]]

``--record`` also writes the figures to ``bench/results/bench_new_sessions.json`` (see
``bench/record.py``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from isolation import clean_up, isolate, kill_servers, machine, settle
from record import Baseline, Recorder, Target, add_option, figure, verdict

BENCH = "bench_new_sessions"
#: Creating a session may cost at most half again what checking out its worktree costs.
TARGET = Target("<", 1.5)


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_repo(path: Path, files: int) -> None:
    path.mkdir(parents=True)
    git(path, "init", "--quiet", "--initial-branch=main")
    git(path, "config", "gc.auto", "0")  # no background gc while the template is copied
    per_dir = 100
    for n in range(files):
        folder = path / f"pkg{n // per_dir:03d}"
        folder.mkdir(exist_ok=True)
        (folder / f"mod{n % per_dir:03d}.py").write_text(f"VALUE = {n}\n" * 5)
    git(path, "add", "--all")
    git(path, "commit", "--quiet", "-m", "bench repository")
    git(path, "repack", "-a", "-d", "-q")


def time_plain(repo: Path, sessions: int) -> float:
    where = repo.parent / f"{repo.name}-worktrees"
    where.mkdir()
    start = time.perf_counter()
    for n in range(sessions):
        git(repo, "worktree", "add", "--quiet", "-b", f"plain/{n}", str(where / f"wt{n}"), "HEAD")
    return time.perf_counter() - start


def time_api(repo: Path, sessions: int, agent: str) -> float:
    from agentmux.core.sessions.manager import SessionManager  # noqa: PLC0415 - after env is set

    start = time.perf_counter()
    manager = SessionManager.open(repo)
    for n in range(sessions):
        manager.create(agent=agent, name=f"a{n}")
    elapsed = time.perf_counter() - start
    manager.close()
    return elapsed


def time_cli_count(repo: Path, sessions: int, agent: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "agentmux", "new", "--agent", agent, "--count", str(sessions)],
        cwd=repo,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def time_cli(repo: Path, sessions: int, agent: str) -> float:
    start = time.perf_counter()
    for n in range(sessions):
        subprocess.run(
            [sys.executable, "-m", "agentmux", "new", "--agent", agent, "--name", f"s{n}"],
            cwd=repo,
            check=True,
            capture_output=True,
        )
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=9)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--dir",
        default="/dev/shm" if Path("/dev/shm").is_dir() else None,
        help="where to build the repositories (default: /dev/shm)",
    )
    add_option(parser, BENCH)
    args = parser.parse_args()
    recorder = Recorder(BENCH, args)

    scratch = Path(tempfile.mkdtemp(prefix="amx-bench-", dir=args.dir))
    sockets = isolate(scratch)
    config = scratch / "config" / "agentmux" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'max_sessions = {args.sessions}\n[agents.cat]\ncommand = ["cat"]\n')

    n = args.sessions
    contenders: dict[str, tuple[str, Callable[[Path], float]]] = {
        "plain": (f"baseline: {n} x `git worktree add -b`", lambda r: time_plain(r, n)),
        "api": (
            f"{n} sessions via the API (`SessionManager.create`), agent `cat`",
            lambda r: time_api(r, n, "cat"),
        ),
        "count": (
            f"`agentmux new --count {n}`, agent `cat`",
            lambda r: time_cli_count(r, n, "cat"),
        ),
        "separate": (
            f"{n} separate `agentmux new` processes, agent `cat`",
            lambda r: time_cli(r, n, "cat"),
        ),
        "demo": (
            f"{n} sessions via the API, the demo agent",
            lambda r: time_api(r, n, "demo"),
        ),
    }
    times: dict[str, list[float]] = {kind: [] for kind in contenders}
    try:
        template = scratch / "template"
        make_repo(template, args.files)
        for rnd in range(args.rounds):
            order = list(contenders)
            if rnd % 2:
                order.reverse()
            for kind in order:
                repo = scratch / f"r{rnd}-{kind}"
                shutil.copytree(template, repo, symlinks=True)
                os.sync()  # no contender pays another's writeback
                time.sleep(0.5)
                times[kind].append(contenders[kind][1](repo))
                kill_servers(sockets)
                settle(sockets)
    finally:
        clean_up(scratch, sockets)

    print(machine())
    print(
        f"repository: {args.files} files in {scratch.parent}; {n} sessions; "
        f"{args.rounds} rounds, medians"
    )
    base = statistics.median(times["plain"])
    print(f"{'what':62} {'seconds':>8} {'ratio':>6}  per-round ratios")
    for kind, (label, _) in contenders.items():
        value = statistics.median(times[kind])
        rounds = " ".join(f"{t / b:.2f}" for t, b in zip(times[kind], times["plain"], strict=True))
        print(f"{label:62} {value:8.3f} {value / base:6.2f}  {rounds}")
    plain = Baseline(contenders["plain"][0].removeprefix("baseline: "), round(base, 3), "s")
    recorder.detail("baseline s", base)
    for kind in ("api", "count", "separate", "demo"):
        value = statistics.median(times[kind])
        ratios = [t / b for t, b in zip(times[kind], times["plain"], strict=True)]
        recorder.detail(f"{kind} s", value)
        recorder.detail(f"{kind} ratio, lowest round", min(ratios))
        recorder.detail(f"{kind} ratio, highest round", max(ratios))
        fig = recorder.add(
            figure(contenders[kind][0], value / base, "x", baseline=plain, target=TARGET)
        )
        print(f"{contenders[kind][0]}: {verdict(fig)}")
    if args.record:
        recorder.write(args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
