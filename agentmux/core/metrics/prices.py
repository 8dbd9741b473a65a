"""What tokens cost, from the ``genai-prices`` library's bundled price data (no network).

genai-prices can refresh its prices from the network (``UpdatePrices``); agentmux never starts
that, and prices from its own snapshot of the data bundled with the installed version, so the
figures depend only on that version (``price_source()`` names it).

Each response is priced at the rates in force when it was made: cache reads, 5-minute and
1-hour cache writes at their own rates, and a long-context tier by that one request's input,
never by a sum of requests. A model the library does not know costs ``None`` ("unknown"), never
zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

from agentmux.core.metrics.usage import TokenUsage, UsageSample

if TYPE_CHECKING:
    from genai_prices.data_snapshot import DataSnapshot
    from genai_prices.types import ModelInfo, ModelPrice


def library_version() -> str:
    """The installed genai-prices version, whose bundled data sets every price."""
    return version("genai-prices")


def price_source() -> str:
    """Where prices come from, for reports: ``genai-prices <version> (bundled data)``."""
    return f"genai-prices {library_version()} (bundled data)"


@cache
def _snapshot() -> DataSnapshot:
    # Imported on first use: the price data takes a quarter of a second to load.
    from genai_prices import data  # noqa: PLC0415
    from genai_prices.data_snapshot import DataSnapshot  # noqa: PLC0415

    return DataSnapshot(providers=data.providers, from_auto_update=False)


@cache
def _model(model: str) -> ModelInfo | None:
    try:
        _provider, info = _snapshot().find_provider_model(model, None, None, None)
    except LookupError:
        return None
    return info


def is_known(model: str) -> bool:
    """Whether the price library knows ``model``."""
    return _model(model) is not None


def _library_usage(usage: TokenUsage) -> Any:
    from genai_prices import Usage  # noqa: PLC0415

    written = usage.cache_write_5m + usage.cache_write_1h
    # genai-prices counts input_tokens as all input, cached and cache-written included.
    return Usage(
        input_tokens=usage.input + usage.cache_read + written,
        cache_read_tokens=usage.cache_read,
        cache_write_tokens=written,
        cache_write_5m_tokens=usage.cache_write_5m,
        cache_write_1h_tokens=usage.cache_write_1h,
        output_tokens=usage.output,
    )


def _context(speed: str | None) -> dict[str, str] | None:
    return {"speed": speed} if speed else None


def cost_of(
    model: str, usage: TokenUsage, when: datetime | None = None, *, speed: str | None = None
) -> Decimal | None:
    """USD for one response's usage at the prices in force at ``when`` (default: now).

    ``None`` if the library does not know the model.
    """
    info = _model(model)
    if info is None:
        return None
    when = when or datetime.now(tz=UTC)
    prices = info.get_prices(when, _context(speed))
    return _linear(prices, usage).calc_price(_library_usage(usage))["total_price"]


def _thresholds(prices: ModelPrice) -> tuple[int, ...]:
    from genai_prices.types import TieredPrices  # noqa: PLC0415

    starts = {
        tier.start
        for value in vars(prices).values()
        if isinstance(value, TieredPrices)
        for tier in value.tiers
    }
    return tuple(sorted(starts))


def _linear(prices: ModelPrice, usage: TokenUsage) -> ModelPrice:
    """``prices`` with every tiered price fixed at the tier that one request of ``usage`` is in.

    A sum of requests can cross a threshold none of them crossed: fixing the tier first makes
    the price of the sum the sum of the prices.
    """
    from genai_prices.types import ModelPrice, TieredPrices  # noqa: PLC0415

    values = vars(prices)
    if not any(isinstance(value, TieredPrices) for value in values.values()):
        return prices
    size = usage.input + usage.cache_read + usage.cache_write_5m + usage.cache_write_1h
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, TieredPrices):
            rate = value.base
            for tier in reversed(value.tiers):
                if size > tier.start:
                    rate = tier.price
                    break
            flat[key] = rate
        else:
            flat[key] = value
    return ModelPrice(**flat)


@dataclass(frozen=True)
class Cost:
    """USD by model; a model the price library does not know maps to ``None``."""

    by_model: Mapping[str, Decimal | None] = field(default_factory=dict)

    @property
    def known(self) -> Decimal:
        """The cost of the models with a price."""
        return sum((c for c in self.by_model.values() if c is not None), Decimal(0))

    @property
    def unknown_models(self) -> frozenset[str]:
        """Models whose tokens were spent but cannot be priced."""
        return frozenset(model for model, c in self.by_model.items() if c is None)

    @property
    def total(self) -> Decimal | None:
        """The whole cost, or ``None`` if any model's cost is unknown."""
        return None if self.unknown_models else self.known


def cost_of_samples(samples: Iterable[UsageSample]) -> Cost:
    """The cost of many responses, each at its own time's prices and its own tier.

    Responses that share a model, a price list and a tier are summed before pricing (the price
    is linear there), so pricing a long history costs one library call per group.
    """
    groups: dict[tuple[str, str | None, int, int], tuple[ModelPrice, TokenUsage, TokenUsage]] = {}
    unknown: set[str] = set()
    priced_models: set[str] = set()
    cut_points: dict[int, tuple[int, ...]] = {}
    for sample in samples:
        info = _model(sample.model)
        if info is None:
            unknown.add(sample.model)
            continue
        priced_models.add(sample.model)
        prices = info.get_prices(sample.time, _context(sample.speed))
        ident = id(prices) if sample.speed is None else hash(repr(prices))
        cuts = cut_points.get(ident)
        if cuts is None:
            cuts = cut_points[ident] = _thresholds(prices)
        usage = sample.usage
        size = usage.input + usage.cache_read + usage.cache_write_5m + usage.cache_write_1h
        tier = sum(1 for start in cuts if size > start)
        key = (sample.model, sample.speed, ident, tier)
        held = groups.get(key)
        if held is None:
            groups[key] = (prices, usage, usage)
        else:
            groups[key] = (held[0], held[1], held[2] + usage)
    by_model: dict[str, Decimal | None] = dict.fromkeys(sorted(priced_models), Decimal(0))
    for (model, _speed, _ident, _tier), (prices, example, total) in groups.items():
        price = _linear(prices, example).calc_price(_library_usage(total))["total_price"]
        by_model[model] = (by_model[model] or Decimal(0)) + price
    for model in sorted(unknown):
        by_model[model] = None
    return Cost(by_model)
