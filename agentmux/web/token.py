"""The secret that opens the cockpit's web page: made at random, or read from a file.

The token travels in the URL the user opens once (``/?token=...``), then in an HttpOnly cookie;
it is compared in constant time and never written to a log.
"""

from __future__ import annotations

import hmac
import re
import secrets
from pathlib import Path

from agentmux.core.errors import AgentmuxError

#: A token from a file: at least this many characters, all safe in a URL unescaped.
MIN_TOKEN_CHARS = 16
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9._~-]+")


def make_token() -> str:
    """A new random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def read_token_file(path: Path) -> str:
    """The token in ``path``: its text without surrounding whitespace, which must be at least
    16 URL-safe characters (letters, digits, ``.``, ``_``, ``~``, ``-``)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise AgentmuxError(f"cannot read the token file {path}: {exc.strerror or exc}.") from exc
    if not raw.strip():
        raise AgentmuxError(f"the token file {path} is empty; put one token in it.")
    try:
        token = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        token = ""
    if not _TOKEN_CHARS.fullmatch(token) or len(token) < MIN_TOKEN_CHARS:
        raise AgentmuxError(
            f"the token in {path} must be one line of at least {MIN_TOKEN_CHARS} letters, "
            "digits or . _ ~ - (e.g. from `python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`)."
        )
    return token


def same_token(given: str | None, token: str) -> bool:
    """Whether ``given`` is the token, compared in constant time."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode())
