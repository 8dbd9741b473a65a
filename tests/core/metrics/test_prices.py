"""Prices: checked against the providers' published per-million-token prices, offline."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib.metadata import version
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentmux.core.metrics import prices
from agentmux.core.metrics.prices import Cost, cost_of, cost_of_samples, is_known, price_source
from agentmux.core.metrics.usage import TokenUsage, UsageSample

WHEN = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
MTOK = Decimal(1_000_000)

# Anthropic's published prices for Claude Sonnet 4.5, USD per million tokens
# (https://docs.anthropic.com/en/docs/about-claude/pricing, "Model pricing" table): base input
# $3, 5-minute cache writes $3.75, 1-hour cache writes $6, cache hits $0.30, output $15; and for
# a request of more than 200K input tokens ("Long context pricing"): input $6, output $22.50,
# 5-minute writes $7.50, 1-hour writes $12, cache hits $0.60.
SONNET_45 = {"input": "3", "write_5m": "3.75", "write_1h": "6", "read": "0.30", "output": "15"}
SONNET_45_LONG = {
    "input": "6",
    "write_5m": "7.50",
    "write_1h": "12",
    "read": "0.60",
    "output": "22.50",
}

# OpenAI's published prices for GPT-5, USD per million tokens (https://openai.com/api/pricing/,
# "GPT-5"): input $1.25, cached input $0.125, output $10. OpenAI has no cache-write charge.
GPT_5 = {"input": "1.25", "write_5m": "1.25", "write_1h": "1.25", "read": "0.125", "output": "10"}


def by_hand(usage: TokenUsage, rates: dict[str, str]) -> Decimal:
    """The cost of ``usage`` at per-million-token ``rates``."""
    return (
        usage.input * Decimal(rates["input"])
        + usage.cache_write_5m * Decimal(rates["write_5m"])
        + usage.cache_write_1h * Decimal(rates["write_1h"])
        + usage.cache_read * Decimal(rates["read"])
        + usage.output * Decimal(rates["output"])
    ) / MTOK


def test_claude_sonnet_4_5_matches_anthropic_published_prices() -> None:
    usage = TokenUsage(
        input=12_345, output=6_789, cache_write_5m=1_000, cache_write_1h=2_000, cache_read=50_000
    )
    expected = by_hand(usage, SONNET_45)
    assert expected == Decimal("0.16962")
    assert cost_of("claude-sonnet-4-5-20250929", usage, WHEN) == expected
    assert cost_of("claude-sonnet-4-5", usage, WHEN) == expected


def test_long_context_tier_is_chosen_per_request_not_per_sum() -> None:
    each = TokenUsage(input=140_000, output=1_000, cache_read=10_000)  # 150K input: base rate
    single = cost_of("claude-sonnet-4-5", each, WHEN)
    assert single == by_hand(each, SONNET_45)
    samples = [UsageSample(WHEN, "claude-sonnet-4-5", each)] * 3  # 450K together
    assert cost_of_samples(samples).total == 3 * by_hand(each, SONNET_45)
    big = TokenUsage(input=200_000, output=1_000, cache_write_1h=5_000, cache_read=45_000)
    assert cost_of("claude-sonnet-4-5", big, WHEN) == by_hand(big, SONNET_45_LONG)


def test_gpt_5_matches_openai_published_prices() -> None:
    # The codex fixture's rollout: 200 input (50 of them cached), 30 output.
    usage = TokenUsage(input=150, output=30, cache_read=50)
    assert cost_of("gpt-5", usage, WHEN) == by_hand(usage, GPT_5) == Decimal("0.00049375")
    # Codex's cache writes are ordinary input at OpenAI.
    written = TokenUsage(input=100, output=10, cache_write_5m=40, cache_read=60)
    assert cost_of("gpt-5", written, WHEN) == by_hand(written, GPT_5)


def test_an_unknown_model_costs_unknown_never_zero() -> None:
    usage = TokenUsage(input=1_000, output=1_000)
    assert not is_known("claude-nonexistent-9")
    assert cost_of("claude-nonexistent-9", usage, WHEN) is None
    cost = cost_of_samples(
        [
            UsageSample(WHEN, "gpt-5", usage),
            UsageSample(WHEN, "home-made-model", usage),
        ]
    )
    assert cost.total is None
    assert cost.unknown_models == {"home-made-model"}
    assert cost.known == by_hand(usage, GPT_5)
    assert cost.by_model["home-made-model"] is None
    assert Cost().total == Decimal(0)


def test_fast_mode_is_priced_as_its_own_variant() -> None:
    usage = TokenUsage(input=1_000, output=1_000)
    standard = cost_of("claude-opus-4-8", usage, WHEN)
    fast = cost_of("claude-opus-4-8", usage, WHEN, speed="fast")
    assert standard is not None
    assert fast is not None
    assert fast > standard
    samples = [UsageSample(WHEN, "claude-opus-4-8", usage, speed="fast")] * 2
    assert cost_of_samples(samples).total == 2 * fast


def test_prices_never_touch_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the price library tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    prices._snapshot.cache_clear()
    prices._model.cache_clear()
    assert cost_of("gpt-5", TokenUsage(input=1), WHEN) is not None
    assert not prices._snapshot().from_auto_update


def test_price_source_names_the_library_version() -> None:
    assert prices.library_version() == version("genai-prices")
    assert price_source() == f"genai-prices {version('genai-prices')} (bundled data)"


MODELS = [
    "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5",
    "claude-opus-4-8",
    "gpt-5",
    "gpt-5-codex",
    "not-a-model",
]
counts = st.integers(0, 150_000)
samples = st.lists(
    st.builds(
        UsageSample,
        time=st.integers(0, 800).map(lambda d: WHEN - timedelta(days=d)),
        model=st.sampled_from(MODELS),
        usage=st.builds(TokenUsage, counts, counts, counts, counts, counts),
        speed=st.sampled_from([None, None, "fast"]),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(samples)
def test_pricing_a_history_equals_pricing_each_response(history: list[UsageSample]) -> None:
    expected: dict[str, Decimal | None] = {}
    for sample in history:
        one = cost_of(sample.model, sample.usage, sample.time, speed=sample.speed)
        held = expected.get(sample.model, Decimal(0))
        expected[sample.model] = None if one is None or held is None else held + one
    assert dict(cost_of_samples(history).by_model) == expected
