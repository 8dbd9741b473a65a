"""Random bytes never break a transcript reader or the hook program (hypothesis)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentmux.core.agents.events import event_data
from agentmux.core.metrics.claude_transcript_reader import ClaudeTranscriptReader
from agentmux.core.metrics.codex_rollouts import CodexRolloutReader

# Lines that look like the real thing, mangled, and plain noise.
FRAGMENTS = [
    b'{"type":"assistant","message":{"id":"m1","model":"claude-sonnet-4-5-20250929",',
    b'"usage":{"input_tokens":',
    b'{"type":"user","message":{"role":"user","content":"hi"},"timestamp":"2026-11-21T10:00:00Z"}',
    b'{"type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":',
    b'{"timestamp":"x","type":"session_meta","payload":{"id":"s","cwd":"/w"}}',
    b'"isApiErrorMessage":true,"apiErrorStatus":"529"',
    b"\n",
    b"\xff\xfe\x00",
    b"null",
    b"[]",
    b"}}}}",
]
chunks = st.lists(st.one_of(st.binary(max_size=64), st.sampled_from(FRAGMENTS)), max_size=30)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(chunks, min_size=1, max_size=4))
def test_transcript_readers_survive_random_bytes(parts: list[list[bytes]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        claude_file = Path(tmp) / "s.jsonl"
        codex_file = Path(tmp) / "rollout.jsonl"
        claude = ClaudeTranscriptReader([claude_file])
        codex = CodexRolloutReader(codex_file)
        for part in parts:  # appended piece by piece, read after each
            data = b"".join(part)
            for path in (claude_file, codex_file):
                with path.open("ab") as handle:
                    handle.write(data)
            claude.update()
            codex.update()
            claude_snap, codex_snap = claude.snapshot(), codex.snapshot()
            for snap in (claude_snap, codex_snap):
                assert snap.malformed_lines >= 0
                assert all(value >= 0 for value in snap.total.to_json().values())


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(payload=st.dictionaries(st.text(max_size=20), JSON))
def test_hook_event_data_takes_only_short_strings(payload: dict[str, object]) -> None:
    data = event_data(payload)
    assert isinstance(data["event"], str)
    assert all(isinstance(v, str) and len(v) <= 200 for v in data.values() if v != data["event"])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(max_size=300))
def test_hook_program_never_fails_on_garbage(raw: bytes) -> None:
    env = {**os.environ, "AGENTMUX_SESSION_ID": "nope", "AGENTMUX_STATE_DB": "/nonexistent/x.db"}
    for args in ([], ["--codex", raw.decode(errors="replace").replace("\0", "")]):
        done = subprocess.run(
            [sys.executable, "-m", "agentmux.commands.hook", *args],
            input=raw,
            capture_output=True,
            env=env,
            check=False,
            timeout=30,
        )
        assert done.returncode == 0
        assert b"Traceback" not in done.stderr
