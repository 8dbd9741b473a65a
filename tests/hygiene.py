"""What a test run may see and what it leaves behind.

``claude`` and ``codex`` on PATH are shims that fail (``tests/conftest.py`` puts them first): a
test never depends on which agent CLIs this machine has installed. The real-CLI tests name the
pinned npm CLIs by absolute path (``tests/npm_tools.py``).
"""

from __future__ import annotations

from pathlib import Path

#: ``claude`` and ``codex`` that fail, put first on PATH for the whole run.
SHIMS = Path(__file__).parent / "shims"
