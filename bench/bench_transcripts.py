"""Time reading a Claude transcript corpus cold, against ccusage in the same run, and catch-ups.

The corpus (default 1 GB) is generated once and cached under the temp dir: sessions in several
project folders, each written as Claude Code writes them: prompts, responses streamed as several
lines sharing ``message.id`` (the first with a placeholder ``output_tokens``), tool calls and
their results (large content, repeated in ``toolUseResult``), bookkeeping records, an API error
now and then, and subagent files that replay a parent message as a sidechain.

Cold: every session read from scratch by agentmux's reader (one process), and
``ccusage claude session --json --offline`` on the same files; rounds alternate who goes first,
after one untimed pass that warms the page cache for both. The two tools' token totals are
compared too. Catch-up: 1 MB of new records appended to one session's transcript, then that
session's reader brought up to date and a snapshot taken; p50/p95 over the rounds (target:
under 50 ms).

    .venv/bin/python bench/bench_transcripts.py [--size-mb 1024] [--rounds 3] [--catchups 20]
        [--record [PATH]]

``--record`` also writes the figures to ``bench/results/bench_transcripts.json`` (see
``bench/record.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from isolation import machine
from record import Baseline, Recorder, Target, add_option, figure, verdict

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agentmux.core.metrics import claude_response_counts  # noqa: E402
from agentmux.core.metrics.claude_history_read import read_sessions  # noqa: E402
from agentmux.core.metrics.claude_transcript_reader import ClaudeSessionReader  # noqa: E402
from tests.npm_tools import PINNED, npm_tool  # noqa: E402

BENCH = "bench_transcripts"
#: A cold read on every core against ccusage's; a catch-up after 1 MB, p95 in ms.
COLD = Target("<=", 1.0)
CATCH_UP = Target("<", 50)
CORPUS_VERSION = 1
SESSION_MB = 8
MODELS = ("claude-sonnet-4-5-20250929", "claude-opus-4-5-20251101", "claude-haiku-4-5-20251001")
VOCABULARY = (
    "def return self value import from class if else for in while try except with as "
    "print(result) data = {'key': \"value\"} path/to/file.py # comment \\ backslash \t tab "
    "résumé naïve 日本語 emoji 🎉 "
)
WORDS = VOCABULARY.split(" ")


class Writer:
    """Writes one session's records the way Claude Code does."""

    def __init__(self, rng: random.Random, session: str, cwd: str) -> None:
        self.rng = rng
        self.session = session
        self.cwd = cwd
        self.clock = 1_790_000_000.0 + rng.random() * 10_000_000
        self.parent: str | None = None
        self.count = 0

    def stamp(self) -> str:
        self.clock += self.rng.random() * 3
        millis = int(self.clock * 1000)
        base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(millis // 1000))
        return f"{base}.{millis % 1000:03d}Z"

    def record(self, body: dict[str, Any], *, sidechain: bool = False) -> bytes:
        self.count += 1
        uid = f"{self.session[:8]}-{self.count:08d}"
        record = {
            "parentUuid": self.parent,
            "isSidechain": sidechain,
            "userType": "external",
            "cwd": self.cwd,
            "sessionId": self.session,
            "version": "2.1.197",
            "gitBranch": "main",
            **body,
            "uuid": uid,
            "timestamp": self.stamp(),
        }
        self.parent = uid
        return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"

    def text(self, size: int) -> str:
        out: list[str] = []
        length = 0
        while length < size:
            line = " ".join(self.rng.choices(WORDS, k=self.rng.randint(4, 14)))
            out.append(line)
            length += len(line) + 1
        return "\n".join(out)

    def usage(self, turn: int, final: bool) -> dict[str, Any]:
        rng = self.rng
        five = rng.randint(0, 4000) if rng.random() < 0.5 else 0
        hour = rng.randint(0, 3000) if rng.random() < 0.2 else 0
        return {
            "input_tokens": rng.randint(1, 40),
            "cache_creation_input_tokens": five + hour,
            "cache_read_input_tokens": rng.randint(0, 20_000) + 1000 * turn,
            "output_tokens": rng.randint(20, 3000) if final else 1,
            "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
            "service_tier": "standard",
            "cache_creation": {
                "ephemeral_1h_input_tokens": hour,
                "ephemeral_5m_input_tokens": five,
            },
        }

    def response(self, model: str, turn: int, *, sidechain: bool = False) -> list[bytes]:
        """One API response: 1-3 streamed lines, then a tool call and its result."""
        rng = self.rng
        mid = f"msg_{rng.getrandbits(80):020x}"
        request = f"req_{rng.getrandbits(80):020x}"
        out: list[bytes] = []
        streamed = rng.randint(1, 3)
        for piece in range(streamed):
            final = piece == streamed - 1
            content: list[dict[str, Any]] = [{"type": "text", "text": self.text(200)}]
            if final and rng.random() < 0.8:
                content.append(
                    {
                        "type": "tool_use",
                        "id": f"toolu_{rng.getrandbits(64):016x}",
                        "name": rng.choice(["Read", "Bash", "Edit", "Write"]),
                        "input": {
                            "file_path": "/work/repo/src/module.py",
                            "content": self.text(rng.choice([100, 500, 4000])),
                        },
                    }
                )
            body = {
                "type": "assistant",
                "requestId": request,
                "message": {
                    "id": mid,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": content,
                    "stop_reason": "tool_use" if final else None,
                    "stop_sequence": None,
                    "usage": self.usage(turn, final),
                },
            }
            out.append(self.record(body, sidechain=sidechain))
        size = int(rng.paretovariate(1.2) * 6000)
        result = self.text(min(size, 400_000))
        out.append(
            self.record(
                {
                    "type": "user",
                    "message": {
                        "role": "user",
                        "content": [
                            {"tool_use_id": "toolu_x", "type": "tool_result", "content": result}
                        ],
                    },
                    "toolUseResult": {"stdout": result, "stderr": "", "interrupted": False},
                },
                sidechain=sidechain,
            )
        )
        return out

    def prompt(self) -> bytes:
        body = {
            "type": "user",
            "message": {"role": "user", "content": self.text(self.rng.randint(20, 600))},
            "promptSource": "typed",
        }
        return self.record(body)

    def chatter(self) -> bytes:
        kind = self.rng.choice(["file-history-snapshot", "system", "attachment"])
        if kind == "system":
            return self.record(
                {
                    "type": "system",
                    "subtype": "turn_duration",
                    "durationMs": self.rng.randint(100, 90_000),
                }
            )
        if kind == "attachment":
            return self.record(
                {
                    "type": "attachment",
                    "attachment": {"type": "skill_listing", "content": self.text(800)},
                }
            )
        return self.record(
            {
                "type": "file-history-snapshot",
                "snapshot": {
                    "trackedFileBackups": {f"src/f{i}.py": {"version": i} for i in range(5)}
                },
            }
        )

    def api_error(self) -> bytes:
        return self.record(
            {
                "type": "assistant",
                "message": {
                    "id": f"e-{self.count}",
                    "model": "<synthetic>",
                    "role": "assistant",
                    "type": "message",
                    "usage": {"input_tokens": 0, "output_tokens": 0},
                    "content": [{"type": "text", "text": "API Error: 529 Overloaded."}],
                },
                "error": "server_error",
                "isApiErrorMessage": True,
                "apiErrorStatus": 529,
            }
        )


def write_session(folder: Path, session: str, rng: random.Random, budget: int) -> None:
    writer = Writer(rng, session, f"/work/{folder.name}")
    model = rng.choice(MODELS)
    sub_writer = Writer(rng, session, writer.cwd)
    main = (folder / f"{session}.jsonl").open("wb")
    subs = folder / session / "subagents"
    subs.mkdir(parents=True)
    sub = (subs / f"agent-{rng.getrandbits(32):08x}.jsonl").open("wb")
    written = 0
    turn = 0
    with main, sub:
        while written < budget:
            turn += 1
            chunk = [writer.prompt()]
            for _ in range(rng.randint(1, 8)):
                lines = writer.response(model, turn)
                chunk.extend(lines)
                if rng.random() < 0.1:
                    # A subagent replays the parent's message as a sidechain, then works.
                    sub.write(lines[0].replace(b'"isSidechain":false', b'"isSidechain":true'))
                    for line in sub_writer.response(MODELS[2], turn, sidechain=True):
                        sub.write(line)
                        written += len(line)
            if rng.random() < 0.05:
                chunk.append(writer.api_error())
            chunk.extend(writer.chatter() for _ in range(rng.randint(1, 3)))
            data = b"".join(chunk)
            main.write(data)
            written += len(data)


def corpus(size_mb: int, where: Path) -> tuple[Path, list[str]]:
    """The cached corpus for ``size_mb`` (made if missing): its config dir and session ids."""
    root = where / f"agentmux-bench-claude-{size_mb}mb-v{CORPUS_VERSION}"
    index = root / "sessions.json"
    if index.exists():
        return root, json.loads(index.read_text())
    shutil.rmtree(root, ignore_errors=True)
    rng = random.Random(size_mb)
    sessions: list[str] = []
    count = max(1, size_mb // SESSION_MB)
    started = time.perf_counter()
    for n in range(count):
        session = f"{rng.getrandbits(32):08x}-0000-4000-8000-{n:012d}"
        folder = root / "projects" / f"-work-project-{n % 20:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        write_session(folder, session, rng, size_mb * 2**20 // count)
        sessions.append(session)
    index.write_text(json.dumps(sessions))
    print(f"generated {size_mb} MB corpus in {time.perf_counter() - started:.0f} s: {root}")
    return root, sessions


def read_all(root: Path, sessions: list[str]) -> tuple[float, dict[str, ClaudeSessionReader]]:
    started = time.perf_counter()
    readers = {}
    for session in sessions:
        reader = ClaudeSessionReader(session, root)
        reader.update()
        reader.snapshot()
        readers[session] = reader
    return time.perf_counter() - started, readers


def read_parallel(root: Path, sessions: list[str]) -> float:
    started = time.perf_counter()
    read_sessions(sessions, root)
    return time.perf_counter() - started


def run_ccusage(exe: Path, root: Path) -> tuple[float, float, dict[str, Any]]:
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(root), "HOME": str(root), "NO_COLOR": "1"}
    before = os.times()
    started = time.perf_counter()
    done = subprocess.run(
        [str(exe), "claude", "session", "--json", "--offline"],
        capture_output=True,
        env=env,
        check=True,
    )
    wall = time.perf_counter() - started
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return wall, cpu, json.loads(done.stdout)


def agreement(readers: dict[str, ClaudeSessionReader], report: dict[str, Any]) -> int:
    """How many sessions' token totals agree with ccusage's report."""
    rows = {row["sessionId"]: row for row in report["sessions"]}
    differ = 0
    for session, reader in readers.items():
        total = reader.snapshot().total
        row = rows.get(session, {})
        mine = (total.input, total.output, total.cache_write, total.cache_read)
        theirs = tuple(
            row.get(k)
            for k in ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens")
        )
        differ += mine != theirs
    return len(readers) - differ


def catch_ups(root: Path, readers: dict[str, ClaudeSessionReader], rounds: int) -> list[float]:
    session = next(iter(readers))
    reader = readers[session]
    path = reader.files[0]
    rng = random.Random(7)
    writer = Writer(rng, session, "/work/appended")
    times = []
    for _ in range(rounds):
        block: list[bytes] = []
        size = 0
        while size < 2**20:
            for line in [writer.prompt(), *writer.response(MODELS[0], 1), writer.chatter()]:
                block.append(line)
                size += len(line)
        with path.open("ab") as handle:
            handle.write(b"".join(block))
        started = time.perf_counter()
        reader.update()
        reader.snapshot()
        times.append(time.perf_counter() - started)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--catchups", type=int, default=20)
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(tempfile.gettempdir()),
        help="where the corpus is cached (default: the temp dir)",
    )
    parser.add_argument("--clean", action="store_true", help="delete the cached corpus after")
    add_option(parser, BENCH)
    args = parser.parse_args()
    recorder = Recorder(BENCH, args)

    exe = npm_tool("ccusage")
    root, sessions = corpus(args.size_mb, args.dir)
    os.sync()  # a corpus just made is still being written back: no timed read may share that
    size = sum(p.stat().st_size for p in root.rglob("*.jsonl"))
    files = sum(1 for _ in root.rglob("*.jsonl"))
    read_all(root, sessions)  # warm the page cache and the fork server; untimed
    read_parallel(root, sessions)
    run_ccusage(exe, root)
    ours: list[float] = []
    shared: list[float] = []
    theirs: list[float] = []
    cpu: list[float] = []
    report: dict[str, Any] = {}
    readers: dict[str, ClaudeSessionReader] = {}
    for rnd in range(args.rounds):
        order = ("ours", "shared", "ccusage")
        for who in order if rnd % 2 == 0 else reversed(order):
            if who == "ours":
                elapsed, readers = read_all(root, sessions)
                ours.append(elapsed)
            elif who == "shared":
                shared.append(read_parallel(root, sessions))
            else:
                wall, used, report = run_ccusage(exe, root)
                theirs.append(wall)
                cpu.append(used)

    work = root.parent / f"{root.name}-catchup"
    shutil.rmtree(work, ignore_errors=True)
    first = sessions[0]
    for path in root.rglob(f"{first}*"):
        target = work / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.is_file():
            shutil.copy2(path, target)
    for path in (root / "projects").glob(f"*/{first}/subagents/*.jsonl"):
        target = work / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    _, mine = read_all(work, [first])
    catch = catch_ups(work, mine, args.catchups)
    shutil.rmtree(work, ignore_errors=True)

    print(machine())
    print(f"corpus: {size / 2**20:.0f} MB in {files} files, {len(sessions)} sessions: {root}")
    fast = "msgspec" if claude_response_counts._FAST is not None else "off (msgspec not installed)"
    print(f"agentmux response fast path: {fast}")
    print(
        f"ccusage {PINNED['ccusage'][1]} (claude session --json --offline); "
        f"{args.rounds} rounds, medians"
    )
    ours_s, theirs_s = statistics.median(ours), statistics.median(theirs)
    print(
        f"cold, agentmux reader (1 process): {ours_s:7.2f} s  {size / 2**20 / ours_s:6.0f} MB/s"
        f"   rounds: {' '.join(f'{t:.2f}' for t in ours)}"
    )
    shared_s = statistics.median(shared)
    print(
        f"cold, agentmux read_sessions ({os.cpu_count()} processes): {shared_s:7.2f} s  "
        f"{size / 2**20 / shared_s:6.0f} MB/s   rounds: {' '.join(f'{t:.2f}' for t in shared)}"
    )
    print(
        f"cold, ccusage:                     {theirs_s:7.2f} s  "
        f"{size / 2**20 / theirs_s:6.0f} MB/s   rounds: {' '.join(f'{t:.2f}' for t in theirs)}"
        f"   (CPU {statistics.median(cpu):.2f} s)"
    )
    print(
        f"ratio agentmux / ccusage: {ours_s / theirs_s:.2f} (1 process), "
        f"{shared_s / theirs_s:.2f} (all cores)"
    )
    ccusage = Baseline(
        f"ccusage {PINNED['ccusage'][1]}, same corpus, same run", round(theirs_s, 3), "s"
    )
    cold = recorder.add(
        figure(
            f"cold read of {size / 2**20:.0f} MB, `read_sessions` on every core (what `cost` does)",
            shared_s / theirs_s,
            "x",
            baseline=ccusage,
            target=COLD,
        )
    )
    recorder.add(
        figure(
            f"cold read of {size / 2**20:.0f} MB, one reader in one process (what the TUI does)",
            ours_s / theirs_s,
            "x",
            baseline=ccusage,
        )
    )
    print(f"every core vs ccusage: {verdict(cold)}")
    agree = agreement(readers, report)
    same = recorder.add(
        figure(
            "sessions whose token totals equal ccusage's",
            agree,
            "sessions",
            target=Target("==", len(readers)),
        )
    )
    print(f"token totals: {agree}/{len(readers)} sessions identical; {verdict(same)}")
    catch_ms = sorted(t * 1000 for t in catch)
    p95 = catch_ms[min(len(catch_ms) - 1, round(0.95 * (len(catch_ms) - 1)))]
    catch_fig = recorder.add(
        figure("catch-up after 1 MB appended to one transcript, p95", p95, "ms", target=CATCH_UP)
    )
    print(
        f"catch-up after appending 1 MB ({len(catch)} rounds): p50 "
        f"{statistics.median(catch_ms):.1f} ms, p95 {p95:.1f} ms, max {catch_ms[-1]:.1f} ms "
        f"({verdict(catch_fig)})"
    )
    for name, value in (
        ("corpus MB", size / 2**20),
        ("corpus files", files),
        ("sessions", len(sessions)),
        ("agentmux 1 process s", ours_s),
        ("agentmux every core s", shared_s),
        ("ccusage s", theirs_s),
        ("ccusage CPU s", statistics.median(cpu)),
        ("catch-up p50 ms", statistics.median(catch_ms)),
        ("catch-up max ms", catch_ms[-1]),
    ):
        recorder.detail(name, value)
    if args.record:
        recorder.write(args.record)
    if args.clean:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
