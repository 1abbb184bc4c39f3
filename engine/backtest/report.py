"""What a finished backtest reports beyond its headline statistics: each pair's share of the
result next to that pair's buy-and-hold, the months, and the chance baseline. The CLI prints
it, the run row stores it, `--export` draws it.

A pair's figures are its contribution to the one shared account: starting capital plus that
pair's cash flows and the value of its position, so the pairs' returns add up to the total.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from data.stats.backtest_labels import (
    ANNUALISED_KEYS,
    BUY_AND_HOLD_KEYS,
    PAIR_LABELS,
    SPAN_TOO_SHORT,
    STAT_LABELS,
    baseline_sentence,
    stat_text,
)
from engine.backtest.baseline import (
    DRAWS,
    ChanceBaseline,
    Trades,
    chance_baselines,
    round_trip_log_cost,
)
from engine.backtest.runner import BacktestResult
from engine.backtest.stats import (
    MIN_ANNUALISE_DAYS,
    curve_stats,
    honest,
    monthly_returns,
    trade_stats,
)


@dataclass
class Report:
    stats: dict[str, float]  # the run's figures as shown: annualised ones only when honest
    pairs: dict[str, dict[str, float]]
    monthly: dict[str, dict[str, float]]  # "2026-01" -> {"strategy": %, "buy_and_hold": %}
    baselines: list[ChanceBaseline] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The stored form (JSON: NaN as None)."""
        return json_safe(
            {
                "pairs": self.pairs,
                "monthly": self.monthly,
                "baselines": [b.to_dict() for b in self.baselines],
                "min_annualise_days": MIN_ANNUALISE_DAYS,
            }
        )


def build_report(result: BacktestResult, draws: int = DRAWS, seed: int = 0) -> Report:
    start, stop = result.rows or (result.market.first, len(result.market.index))
    closes = {pair: s.close for pair, s in result.signals.items()}
    trades = trade_rows(result)
    costs = result.costs
    log_cost = round_trip_log_cost(costs.fee_rate, costs.slippage_rate) if costs else 0.0
    baselines = chance_baselines(closes, trades, (start, stop), log_cost, draws, seed)
    stats = honest(result.stats)
    stats["chance_p_value"] = baselines[0].p_value if baselines else math.nan
    stats["shifted_p_value"] = baselines[1].p_value if baselines else math.nan
    pairs = _pair_figures(result, start, stop)
    for pair, figures in pairs.items():
        figures["chance_p_value"] = (
            baselines[0].pair_p_values.get(pair, math.nan) if baselines else math.nan
        )
    strategy, held = monthly_returns(result.equity), monthly_returns(result.buy_and_hold)
    monthly = {m: {"strategy": strategy[m], "buy_and_hold": held[m]} for m in strategy}
    return Report(stats, pairs, monthly, baselines)


def pair_equity(result: BacktestResult, pair: str, start: int, stop: int) -> np.ndarray:
    """Starting capital plus this pair's own cash flows and position, at the equity curve's
    times: the pairs' curves less the capital sum to the account's curve less the capital."""
    capital = float(result.equity.iloc[0])
    simulation = result.simulation
    cash = np.zeros(stop + 1)
    for t in simulation.trades:
        if t.pair == pair:
            cash[t.entry_row] -= t.amount * t.entry_price + t.entry_fee
            cash[t.exit_row] += t.amount * t.exit_price - t.exit_fee
    held = simulation.open_positions.get(pair)
    if held is not None:
        cash[held.entry_row] -= held.amount * held.entry_price + held.entry_fee
    value = (
        np.cumsum(cash)[:stop] + simulation.held[pair][:stop] * result.signals[pair].close[:stop]
    )
    return capital + np.concatenate([[0.0], value[start:stop]])


def _pair_figures(result: BacktestResult, start: int, stop: int) -> dict[str, dict[str, float]]:
    step = result.market.step_seconds
    prices = result.prices()
    out = {}
    for pair in result.market.pairs:
        mine = result.trades[result.trades["pair"] == pair]
        figures = curve_stats(pair_equity(result, pair, start, stop), step)
        held = curve_stats(prices[pair], step)
        hours = (mine["exit_row"] - mine["entry_row"]).to_numpy(dtype=float) * step / 3600
        figures.update(
            trade_stats(mine["pnl"].to_numpy(float), mine["pnl_pct"].to_numpy(float), hours)
        )
        open_fee = getattr(result.simulation.open_positions.get(pair), "entry_fee", 0.0)
        figures["fees_paid"] = float(mine["fees"].sum()) + open_fee
        figures["exposure_pct"] = float(np.mean(result.simulation.held[pair][start:stop] > 0)) * 100
        figures.update({key: held[base] for base, key in BUY_AND_HOLD_KEYS.items()})
        figures["span_days"] = result.stats["span_days"]
        out[pair] = honest(figures)
    return out


def trade_rows(result: BacktestResult) -> dict[str, Trades]:
    """Each pair's trades as candle rows; a position still open counts to the last candle."""
    stop = result.rows[1] if result.rows else len(result.market.index)
    trades = result.trades
    out = {}
    for pair in result.market.pairs:
        mine = trades[trades["pair"] == pair]
        entry, exit_ = mine["entry_row"].to_numpy(int), mine["exit_row"].to_numpy(int)
        held = result.simulation.open_positions.get(pair)
        if held is not None:
            entry, exit_ = np.append(entry, held.entry_row), np.append(exit_, stop - 1)
        out[pair] = Trades(entry, exit_)
    return out


def json_safe(value):
    """Plain JSON values: NaN and infinities as None, numpy scalars as Python ones."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    return value


def format_report(report: Report) -> str:
    """The CLI's text: the figures beside buy-and-hold's, the pairs, the months, the baseline."""
    stats, annualised = report.stats, bool(report.stats.get("annualised"))
    width = max(len(label) for label in STAT_LABELS.values())
    lines = [f"{'':<{width}}  {'Strategy':>12}  {'Buy & hold':>12}"]
    for key, label in STAT_LABELS.items():
        if key in ANNUALISED_KEYS and not annualised:
            lines.append(
                f"{label:<{width}}  {SPAN_TOO_SHORT}: {stats['span_days']:.1f} days, "
                f"annualised from {MIN_ANNUALISE_DAYS:.0f}"
            )
            continue
        other = BUY_AND_HOLD_KEYS.get(key)
        mine = stat_text(key, stats.get(key, math.nan), annualised)
        theirs = stat_text(other, stats.get(other, math.nan), annualised) if other else ""
        lines.append(f"{label:<{width}}  {mine:>12}  {theirs:>12}".rstrip())
    if report.pairs:
        lines += ["", _pair_table(report.pairs, annualised)]
    if report.monthly:
        lines += ["", "Monthly returns [%]   strategy   buy & hold"]
        lines += [
            f"  {month:<19} {m['strategy']:+9.2f}   {m['buy_and_hold']:+9.2f}"
            for month, m in report.monthly.items()
        ]
    lines.append("")
    if not report.baselines:
        lines.append(baseline_sentence(None))
    for baseline in report.baselines:
        lines.append(baseline_sentence(baseline.to_dict()))
        lines.append(
            f"  mean trade after costs: strategy {baseline.strategy_pct:+.3f} %, "
            f"median {baseline.method} run {baseline.random_median_pct:+.3f} % "
            f"({baseline.trades} trades, close to close)"
        )
    return "\n".join(lines)


def _pair_table(pairs: dict[str, dict[str, float]], annualised: bool) -> str:
    keys = [k for k in PAIR_LABELS if annualised or k not in ANNUALISED_KEYS]
    cells = [[stat_text(k, f.get(k, math.nan), annualised) for k in keys] for f in pairs.values()]
    table = pd.DataFrame(cells, index=list(pairs), columns=[PAIR_LABELS[k] for k in keys])
    return table.rename_axis("Pair").to_string()
