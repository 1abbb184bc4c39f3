"""A backtest of the live pipeline: agents and consensus vectorised once over the whole history,
then the sequential loop for positions, cash, stops and risk (DESIGN: agents are vectorised)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from agents import RULE_AGENTS, build_team
from agents.warmup import decision_warmup, team_warmup
from config import Settings
from data.store.models import ROUND_TRIP_COLUMNS
from engine.backtest.candles import CandleDataError, Market
from engine.backtest.replay import live_agent_names, replay_note, stored_votes
from engine.backtest.signals import PairSignals, TeamVotes, decide, team_votes
from engine.backtest.simulate import Costs, Simulation, equity_curve, simulate
from engine.backtest.stats import run_stats
from engine.backtest.vote_cache import VoteCache
from engine.wiring import build_gate, indicator_periods, regime_limits

Progress = Callable[[float], None]


@dataclass
class Prepared:
    """Every agent's vote on every candle of every pair: computed once, decided many times."""

    settings: Settings
    market: Market
    votes: dict[str, TeamVotes]
    replay_notes: list[str]
    warmup: int = 0  # candles before the first decision (agents.warmup); 0: decide from row 0


@dataclass
class BacktestResult:
    stats: dict[str, float]
    trades: pd.DataFrame
    equity: pd.Series
    buy_and_hold: pd.Series
    notes: list[str]  # "LLM: abstained", ...
    weights: dict[str, float]
    market: Market
    signals: dict[str, PairSignals]
    simulation: Simulation
    seconds: float = 0.0
    rows: tuple[int, int] | None = None
    costs: Costs | None = None  # the fee and slippage it ran with (the chance baseline's)

    def prices(self) -> dict[str, np.ndarray]:
        """Each pair's close at the equity curve's times (the first: the close before)."""
        start = self.market.first if self.rows is None else self.rows[0]
        out = {}
        for pair, s in self.signals.items():
            base = s.close[start - 1] if start > 0 else s.open[0]
            out[pair] = np.concatenate([[base], s.close[start:]])
        return out

    @property
    def llm_note(self) -> str:
        return next((n for n in self.notes if n.startswith("LLM")), "LLM: not on the team")


def prepare(
    settings: Settings,
    market: Market,
    *,
    store: Engine | None = None,
    all_agents: bool = False,
    progress: Progress | None = None,
    cache: VoteCache | None = None,
) -> Prepared:
    """Vote frames for the team (every rule agent when `all_agents`, for tuning weights);
    `cache`: a search's votes of earlier trials, reused where an agent's lengths are."""
    weights = dict(settings.agents.weights)
    if all_agents:
        weights.update({name: 1.0 for name in RULE_AGENTS})
    periods = indicator_periods(settings)
    team = build_team(
        weights,
        regime_limits(settings),
        sentiment_proxy=settings.agents.sentiment.source == "proxy",
        window=settings.market.history_candles,
        periods=periods,
    )
    live_names = live_agent_names(settings)
    votes, counts = {}, {name: [] for name in live_names}
    for i, pair in enumerate(market.pairs):
        frame = market.candles[pair]
        replies = stored_votes(store, live_names, pair, frame.index, settings)
        for reply in replies:
            counts[reply.agent].append(reply)
        votes[pair] = team_votes(
            frame,
            team,
            regime_limits(settings),
            settings.market.history_candles,
            replies,
            periods,
            cache,
            pair,
        )
        if progress:
            progress((i + 1) / len(market.pairs))
    notes = []
    for name in live_names:
        label = "LLM" if name == "llm" else name.replace("_", " ").capitalize()
        notes.append(replay_note(label, counts[name]))
    if "llm" not in live_names:
        notes.append("LLM: abstained (weight 0)")
    history = settings.market.history_candles
    warmup = decision_warmup(team, regime_limits(settings), history, periods)
    return Prepared(settings, market, votes, notes, warmup)


def evaluate(
    prepared: Prepared,
    weights: dict[str, float] | None = None,
    rows: tuple[int, int] | None = None,
    gate=None,
    progress: Progress | None = None,
) -> BacktestResult:
    """Decide every candle with these weights and trade rows [start, stop) of the market."""
    began = time.perf_counter()
    settings, market = prepared.settings, prepared.market
    weights = dict(settings.agents.weights if weights is None else weights)
    thresholds = dict(settings.consensus.thresholds)
    start, stop = rows or (market.first, len(market.index))
    start = max(start, prepared.warmup - 1)  # no decision on cold windows (warm_market)
    signals = {
        pair: _head(decide(prepared.votes[pair], weights, thresholds), stop)
        for pair in market.pairs
    }
    broker = settings.broker
    closes = market.index[:stop] + pd.Timedelta(seconds=market.step_seconds)
    fills = next_opens(market, stop) if broker.fill_at == "next_open" else None
    simulation = simulate(
        market.pairs,
        signals,
        start,
        gate or build_gate(settings),
        Costs(broker.fee_rate, broker.slippage_rate),
        broker.starting_capital,
        progress,
        closes=closes.as_unit("s").asi8,
        fills=fills,
    )
    result = _result(prepared, weights, signals, simulation, start, stop)
    result.notes += fill_notes(broker.fill_at, simulation)
    result.stats["both_touched_candles"] = simulation.both_touched
    result.rows = (start, stop)
    result.costs = Costs(broker.fee_rate, broker.slippage_rate)
    result.seconds = time.perf_counter() - began
    return result


def next_opens(market: Market, stop: int) -> dict[str, np.ndarray]:
    """Per pair, where a decision on each of rows [0, stop) fills from: the next candle's
    open, which the market has past `stop` too (a walk-forward window's last decision fills
    inside the next window's first candle); NaN after the market's last candle."""
    out = {}
    for pair in market.pairs:
        opens = market.candles[pair]["open"].to_numpy(dtype=float)
        out[pair] = np.append(opens[1 : stop + 1], [np.nan] * max(0, stop + 1 - len(opens)))
    return out


FILL_MODEL_NOTES = {
    "next_open": "fills: at the next candle's open (broker.fill_at = next_open)",
    "close": "fills: at the decision candle's close (broker.fill_at = close)",
}


def fill_notes(fill_at: str, simulation: Simulation) -> list[str]:
    """What every report says of its fills: the model, the candles whose stop and target
    were both met, and decisions left unfilled at the end."""
    notes = [
        FILL_MODEL_NOTES[fill_at],
        f"stop and take-profit both touched on {simulation.both_touched} "
        f"candle{'s' if simulation.both_touched != 1 else ''} (the stop taken)",
    ]
    if simulation.unfilled:
        notes.append(
            f"{simulation.unfilled} decision{'s' if simulation.unfilled != 1 else ''} on the "
            "last candle not filled: no next open"
        )
    return notes


def team_warmup_of(settings: Settings) -> int:
    """Candles the configured team needs before its first decision (agents.warmup)."""
    periods = indicator_periods(settings)
    team = build_team(
        settings.agents.weights,
        regime_limits(settings),
        sentiment_proxy=settings.agents.sentiment.source == "proxy",
        window=settings.market.history_candles,
        periods=periods,
    )
    return team_warmup(team, regime_limits(settings), settings.market.history_candles, periods)


def warm_market(settings: Settings, market: Market) -> Market:
    """The market with its first decision on its first warm row: the candle on which every
    indicator and agent window is full. Refused when no row is."""
    warmup = min(team_warmup_of(settings), settings.market.history_candles)
    if len(market.index) < warmup:
        raise CandleDataError(
            f"{market.source}: {len(market.index)} candles, but the team needs {warmup} "
            "before its first decision (its longest window); give a longer span"
        )
    return replace(market, first=max(market.first, warmup - 1))


def run_backtest(
    settings: Settings,
    market: Market,
    *,
    store: Engine | None = None,
    progress: Progress | None = None,
) -> BacktestResult:
    """The whole pipeline on the configured weights; progress runs 0..1."""

    def stage(low: float, high: float) -> Progress | None:
        return None if progress is None else lambda done: progress(low + (high - low) * done)

    began = time.perf_counter()
    prepared = prepare(settings, market, store=store, progress=stage(0.0, 0.7))
    result = evaluate(prepared, progress=stage(0.7, 1.0))
    result.seconds = time.perf_counter() - began
    if progress:
        progress(1.0)
    return result


def _head(signals: PairSignals, stop: int) -> PairSignals:
    if stop >= len(signals.close):
        return signals
    return PairSignals(
        **{
            name: (value[:stop] if isinstance(value, np.ndarray) else value)
            for name, value in vars(signals).items()
            if name != "votes"
        },
        votes={agent: v[:stop] for agent, v in signals.votes.items()},
    )


def _result(prepared, weights, signals, simulation, start, stop) -> BacktestResult:
    settings, market = prepared.settings, prepared.market
    capital = settings.broker.starting_capital
    step = pd.Timedelta(seconds=market.step_seconds)
    closes = market.index[:stop] + step
    equity_rows = equity_curve(simulation, signals, capital)[start:stop]
    before = closes[start] - step  # the moment before the first decision
    equity = pd.Series(
        np.concatenate([[capital], equity_rows]), index=closes[start:].insert(0, before)
    )
    prices = []
    for pair in market.pairs:
        s = signals[pair]
        base = s.close[start - 1] if start > 0 else s.open[0]
        prices.append(np.concatenate([[base], s.close[start:stop]]) / base)
    buy_and_hold = pd.Series(capital * np.mean(prices, axis=0), index=equity.index)
    trades = _trades_frame(simulation, market, closes)
    exposed = np.zeros(stop - start, dtype=bool)
    for amounts in simulation.held.values():
        exposed |= amounts[start:stop] > 0
    stats = run_stats(
        equity.to_numpy(),
        trades["pnl"].to_numpy(dtype=float),
        float(trades["fees"].sum()) + sum(p.entry_fee for p in simulation.open_positions.values()),
        exposed,
        buy_and_hold.to_numpy(),
        market.step_seconds,
        trades["pnl_pct"].to_numpy(dtype=float),
        (trades["exit_row"] - trades["entry_row"]).to_numpy(dtype=float)
        * market.step_seconds
        / 3600,
    )
    stats["open_positions"] = len(simulation.open_positions)
    return BacktestResult(
        stats,
        trades,
        equity,
        buy_and_hold,
        list(prepared.replay_notes),
        weights,
        market,
        signals,
        simulation,
    )


TRADE_COLUMNS = [*ROUND_TRIP_COLUMNS, "entry_row", "exit_row"]


def _trades_frame(simulation: Simulation, market: Market, closes: pd.DatetimeIndex):
    """Times are candle closes: when live trading would have filled the order."""
    trades = sorted(simulation.trades, key=lambda t: (t.exit_row, t.pair))
    if not trades:
        return pd.DataFrame(columns=TRADE_COLUMNS)
    entry_rows = np.array([t.entry_row for t in trades], dtype=int)
    exit_rows = np.array([t.exit_row for t in trades], dtype=int)
    columns = {
        "pair": [t.pair for t in trades],
        "amount": [t.amount for t in trades],
        "entry_ts": closes[entry_rows],  # one lookup for all: a year holds thousands
        "entry_price": [t.entry_price for t in trades],
        "exit_ts": closes[exit_rows],
        "exit_price": [t.exit_price for t in trades],
        "fees": [t.fees for t in trades],
        "pnl": [t.pnl for t in trades],
        "pnl_pct": [t.pnl_pct for t in trades],
        "exit_reason": [t.exit_reason for t in trades],
        "entry_row": entry_rows,
        "exit_row": exit_rows,
    }
    return pd.DataFrame(columns, columns=TRADE_COLUMNS)
