"""What one response line of a Claude Code transcript counts: its model, time, ids and tokens.

A response is an ``assistant`` record with ``message.usage``. `counted_of` reads it from the
parsed record; where msgspec is installed, `counted_fast` reads the same fields straight from the
line's bytes, its content (most of the line) skipped unbuilt. Any line that path is unsure of is
parsed in full, and whatever it does answer is what the full parse gives.

Synthetic records (``isApiErrorMessage``, or the ``<synthetic>`` model) count nothing: they are
API errors Claude Code writes itself, which cost nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any

from agentmux.core.metrics.jsonl_reading import parse_time

SYNTHETIC_MODEL = "<synthetic>"

Counts = tuple[int, int, int, int, int]  # input, output, 5-minute and 1-hour writes, reads
# What one assistant record counts: (not a sidechain, model, raw timestamp, time, message id,
# request id, counts, speed other than standard).
Counted = tuple[bool, str, str, datetime, object, object, Counts, str | None]


def token_count(value: object) -> int:
    """A raw token count as a count: anything but a positive integer is none."""
    return value if type(value) is int and value > 0 else 0


def _counts(fresh: object, output: object, written: object, split: object, read: object) -> Counts:
    """(input, output, 5-minute writes, 1-hour writes, cache reads) from a usage's raw fields."""
    total = token_count(written)
    one_hour = 0
    if isinstance(split, dict):
        one_hour = token_count(split.get("ephemeral_1h_input_tokens"))
        five_min = token_count(split.get("ephemeral_5m_input_tokens"))
        # The total is what the API billed; the split only says at which rate. Parts larger
        # than the total would be a broken record: then the parts are all we have.
        total = max(total, five_min + one_hour)
    return (token_count(fresh), token_count(output), total - one_hour, one_hour, token_count(read))


def _usage_of(raw: Mapping[str, Any]) -> Counts:
    """(input, output, 5-minute writes, 1-hour writes, cache reads) of a ``message.usage``."""
    return _counts(
        raw.get("input_tokens"),
        raw.get("output_tokens"),
        raw.get("cache_creation_input_tokens"),
        raw.get("cache_creation"),
        raw.get("cache_read_input_tokens"),
    )


def _key_part(value: object) -> object:
    """``value`` as part of a dict key: JSON arrays and objects are not hashable, their text is."""
    return value if value is None or isinstance(value, str | int | float) else repr(value)


def counted_of(record: Mapping[str, Any]) -> Counted | None:
    """What a parsed ``assistant`` record counts; ``None`` if it counts nothing (or is synthetic).

    The reference for `counted_fast`: the reader takes the answer of either the same way.
    """
    message = record.get("message")
    if not isinstance(message, dict):
        return None
    model = message.get("model")
    if record.get("isApiErrorMessage") is True or model == SYNTHETIC_MODEL:
        return None
    raw = message.get("usage")
    stamp = record.get("timestamp")
    when = parse_time(stamp)
    if not isinstance(raw, dict) or not isinstance(model, str) or when is None:
        return None
    assert isinstance(stamp, str)
    speed = raw.get("speed")
    return (
        record.get("isSidechain") is not True,
        model,
        stamp,
        when,
        _key_part(message.get("id")),
        _key_part(record.get("requestId")),
        _usage_of(raw),
        speed if isinstance(speed, str) and speed != "standard" else None,
    )


def _fast_decoder() -> (
    tuple[Callable[[bytes | bytearray], Any], tuple[type[Exception], ...]] | None
):
    """msgspec's decoder of just the fields a response record counts, if msgspec is installed.

    It still checks the whole line is JSON, but skips what it is not asked for (the message's
    content: most of the line) without building any of it, which is where a full parse spends
    its time. The fields are typed as a response has them (token counts as non-negative
    integers, ids as strings, ...): a line with anything else fails to decode, and is parsed in
    full instead.
    """
    try:
        msgspec = importlib.import_module("msgspec")
    except ImportError:  # pragma: no cover - the full parse does the same work, slower
        return None
    count = Annotated[int, msgspec.Meta(ge=0)]
    text = str | None
    flag = bool | None
    split = msgspec.defstruct(
        "_Split",
        [("ephemeral_1h_input_tokens", count, 0), ("ephemeral_5m_input_tokens", count, 0)],
    )
    usage = msgspec.defstruct(
        "_Usage",
        [
            ("input_tokens", count, 0),
            ("output_tokens", count, 0),
            ("cache_creation_input_tokens", count, 0),
            ("cache_creation", split | None, None),
            ("cache_read_input_tokens", count, 0),
            ("speed", Any, None),
        ],
    )
    message = msgspec.defstruct(
        "_Message", [("id", text, None), ("model", text, None), ("usage", usage | None, None)]
    )
    record = msgspec.defstruct(
        "_Record",
        [
            ("type", text, None),
            ("message", message | None, None),
            ("isSidechain", flag, None),
            ("isApiErrorMessage", flag, None),
            ("requestId", text, None),
            ("timestamp", text, None),
        ],
    )
    # Text in a decoded field that is not UTF-8 raises UnicodeDecodeError, a ValueError.
    return msgspec.json.Decoder(record).decode, (msgspec.MsgspecError, ValueError)


_FAST = _fast_decoder()


def counted_fast(line: bytes | bytearray) -> Counted | None:
    """What an ``assistant`` line counts, found without parsing all of it; ``None`` if unsure.

    Unsure means the line needs the full parse: not JSON to msgspec, not a counted assistant
    record (a synthetic one, one without usage, another type), or fields of unexpected types.
    Whenever this gives an answer it is `counted_of` of the full parse (a property test holds
    it to that), so the reader may trust it without parsing the line again.
    """
    if _FAST is None:
        return None
    decode, error = _FAST
    try:
        record = decode(line)
    except error:
        return None
    message = record.message
    if record.type != "assistant" or message is None or record.isApiErrorMessage is True:
        return None
    raw = message.usage
    model = message.model
    stamp = record.timestamp
    if raw is None or model is None or model == SYNTHETIC_MODEL or stamp is None:
        return None
    when = parse_time(stamp)
    if when is None:
        return None
    if not line.isascii():
        # msgspec does not check that the text it skips is UTF-8; the full parse rejects a
        # line that is not.
        try:
            line.decode()
        except UnicodeDecodeError:
            return None
    written = raw.cache_creation_input_tokens
    one_hour = 0
    split = raw.cache_creation
    if split is not None:
        one_hour = split.ephemeral_1h_input_tokens
        written = max(written, split.ephemeral_5m_input_tokens + one_hour)
    speed = raw.speed
    return (
        record.isSidechain is not True,
        model,
        stamp,
        when,
        message.id,
        record.requestId,
        (
            raw.input_tokens,
            raw.output_tokens,
            written - one_hour,
            one_hour,
            raw.cache_read_input_tokens,
        ),
        speed if isinstance(speed, str) and speed != "standard" else None,
    )
