"""Claude Code transcripts: a map of the modules that read them, and a re-export for one caller.

Reading a session's transcripts is cut into modules, one concept each:

- `claude_transcript_files`: where a session's transcripts and its subagents' are.
- `jsonl_reading`: complete lines of a file still being written, in chunks (shared with Codex).
- `claude_response_counts`: what one response line counts (the full parse and the fast path).
- `claude_usage_ledger`: each response counted once, as the API bills it; the agent's own account.
- `claude_turns`: turns, and failures (API errors, limits, interruptions).
- `failure_text`: what an error text says about a usage limit and its reset (shared with Codex).
- `claude_transcript_reader`: the incremental readers that put those together.
- `claude_history_read`: many sessions read from scratch, on every core when it pays.

This module exists only because ``agentmux/core/sessions/resume.py`` imports ``claude_config_dir``
and ``find_main_files`` from here; new code imports from the modules above. Once that import
names `claude_transcript_files`, the re-export can go.
"""

from __future__ import annotations

from agentmux.core.metrics.claude_transcript_files import claude_config_dir, find_main_files

__all__ = ["claude_config_dir", "find_main_files"]
