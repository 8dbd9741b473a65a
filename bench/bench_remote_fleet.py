"""27 sessions over three hosts in one repository: how long ``agentmux ls --json`` takes.

Three hosts (``build1``..``build3``) are this machine seen through the ssh tests' sshd
(``tests/core/host/ssh/sshd.py``: a throw-away OpenSSH server on 127.0.0.1 logging in as a second
local user), each with its own clone directory (``--path``), so each runs its own agentmux state
store and tmux server, as three machines would. Nine demo sessions are started on each. Then, in
the same run, ``agentmux ls --json`` is timed (wall clock of the whole process, as a script sees
it) ``--rounds`` times:

- baseline: the same repository's nine local demo sessions only, before any host is added;
- fleet: the nine local sessions and the 27 remote ones (every host asked side by side over its
  ssh master, their branches fetched).

Target (issue 14): the fleet listing under 0.5 s. Over loopback there is no network delay: add
the hosts' round trip for real machines. But the three "hosts" are this machine too: their three
agentmux processes answering at once share its cores with the local one, which real hosts would
not. agentmux's bytecode is compiled first (``make dev`` does, as a wheel install does). It
needs root (sshd, the second user) and ``openssh-server``, like the ssh tests.

    sudo .venv/bin/python bench/bench_remote_fleet.py [--rounds 15] [--record [PATH]]

``--record`` also writes the figures to ``bench/results/bench_remote_fleet.json``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from isolation import clean_up, isolate
from record import Baseline, Recorder, Target, add_option, figure, verdict

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BENCH = "bench_remote_fleet"
HOSTS = ("build1", "build2", "build3")
PER_HOST = 9
TARGET_SECONDS = Target("<", 0.5)


def agentmux(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "agentmux", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        raise SystemExit(f"agentmux {' '.join(args)} failed: {done.stderr.strip()}")
    return done


def time_ls(repo: Path, rounds: int, expect: int) -> list[float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        rows = json.loads(agentmux(repo, "ls", "--json").stdout)
        times.append(time.perf_counter() - start)
        if len(rows) != expect:
            raise SystemExit(f"ls --json listed {len(rows)} sessions, not {expect}")
    return times


def stop_hosts(remote_dir: Path, user: str, program: Path) -> None:
    """Stop the hosts' tmux servers (their agents with them): the sshd going away does not."""
    home = Path(remote_dir).parent
    # The user's own environment, as an ssh login has it: none of this process's XDG dirs.
    as_user = ["runuser", "-u", user, "--", "env", "-i", f"HOME={home}", "PATH=/usr/bin:/bin"]
    for clone in remote_dir.glob("clones-*/*"):
        done = subprocess.run(
            [*as_user, str(program), "-C", str(clone), "_socket"],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0:
            socket = json.loads(done.stdout)["socket"]
            subprocess.run(
                [*as_user, "tmux", "-S", socket, "kill-server"],
                capture_output=True,
                check=False,
            )


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=15)
    add_option(parser, BENCH)
    args = parser.parse_args()
    recorder = Recorder(BENCH, args)

    from tests.core.host.ssh.remote_install import install_agentmux  # noqa: PLC0415 - after path
    from tests.core.host.ssh.sshd import chown_tree, running_sshd  # noqa: PLC0415

    scratch = Path(tempfile.mkdtemp(prefix="amx-fleet-"))
    sockets = isolate(scratch)
    try:
        with running_sshd(scratch / "sshd") as server:
            program = install_agentmux(server.remote_dir / "venv", server.user)
            fast = program.with_name("agentmux-fast")
            fast.write_text(
                f'#!/bin/sh\nAGENTMUX_DEMO_FAST=1 exec {shlex.quote(str(program))} "$@"\n'
            )
            fast.chmod(0o755)
            chown_tree(server.remote_dir, server.user)
            repo = scratch / "project"
            repo.mkdir()
            for git_args in (
                ["init", "--quiet", "--initial-branch=main"],
                ["commit", "--quiet", "--allow-empty", "-m", "initial"],
            ):
                subprocess.run(["git", *git_args], cwd=repo, check=True)
            agentmux(repo, "new", "--agent", "demo", "--count", str(PER_HOST), "--name", "here")
            base = time_ls(repo, args.rounds, PER_HOST)
            for host in HOSTS:
                clones = server.remote_dir / f"clones-{host}"
                agentmux(
                    repo,
                    "host",
                    "add",
                    host,
                    "amx-sshd",
                    "--ssh-command",
                    server.ssh_command,
                    "--agentmux",
                    str(fast),
                    "--path",
                    str(clones),
                )
                agentmux(
                    repo,
                    "new",
                    "--host",
                    host,
                    "--agent",
                    "demo",
                    "--count",
                    str(PER_HOST),
                    "--name",
                    host,
                )
            try:
                fleet = time_ls(repo, args.rounds, PER_HOST * (1 + len(HOSTS)))
            finally:
                stop_hosts(server.remote_dir, server.user.pw_name, fast)
    finally:
        clean_up(scratch, sockets)
    base_median, fleet_median, fleet_p95 = (
        statistics.median(base),
        statistics.median(fleet),
        p95(fleet),
    )
    print(f"ls --json, 9 local sessions: median {base_median * 1000:.0f} ms (baseline)")
    print(
        f"ls --json, 9 local + 27 on 3 hosts: median {fleet_median * 1000:.0f} ms, "
        f"p95 {fleet_p95 * 1000:.0f} ms, {fleet_median / base_median:.2f}x the baseline"
    )
    baseline = Baseline("ls --json with 9 local sessions only, same run", round(base_median, 4))
    fig = recorder.add(
        figure("ls --json, 27 sessions on 3 hosts (p95)", fleet_p95, "s", target=TARGET_SECONDS)
    )
    print(verdict(fig))
    recorder.add(
        figure(
            "ls --json, fleet vs local only (median)",
            fleet_median / base_median,
            "x",
            baseline=baseline,
        )
    )
    recorder.detail("baseline_median_s", base_median)
    recorder.detail("fleet_median_s", fleet_median)
    if args.record:
        recorder.write(args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
