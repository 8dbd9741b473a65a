"""Prompt text as data: what may be typed into an agent."""

from __future__ import annotations

import re

# C0 controls and DEL, except tab and newline. ESC in particular could end a bracketed paste
# early and turn the rest of a prompt into keystrokes; the others would act as key chords.
_CONTROL = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]")


def sanitize_prompt(data: bytes) -> bytes:
    """Normalise line endings and drop control characters; every other byte goes through."""
    data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return _CONTROL.sub(b"", data)
