"""Read-only queries the dashboard renders, one module per concern. Each returns plain data;
pages never touch SQL. Pages call them as `queries.<name>` (`views.ui.read` caches by that
name), so every page read is re-exported here. The engine reads nothing from this package."""

from data.queries.backtests import (
    backtest_curve,
    backtest_report,
    backtest_runs,
    backtest_trades,
)
from data.queries.chart import candles, trade_markers
from data.queries.closed_trades import (
    latest_trades,
    realised_pnl,
    trade_summary,
    trades,
    trades_csv,
)
from data.queries.decisions import (
    decision_detail,
    decision_list,
    journal,
    llm_votes,
    resolved_votes,
    weight_history,
)
from data.queries.drawdown import equity_drawdown
from data.queries.optimize import optimize_runs, optimize_trials
from data.queries.performance import account_resets, profit_by_day, profit_by_pair
from data.queries.portfolio import equity_curve, open_positions
from data.queries.risk import equity_and_peak, protection_locks, rejections
from data.queries.scoreboard import agent_scoreboard
from data.queries.system import (
    command_outcome,
    commands,
    engine_state,
    events,
    exchange_status,
    latest_metrics,
    metrics_history,
)
from data.store.day_pnl import pnl_today  # the engine's daily summary reads it too
from data.store.evidence import latest_evidence  # the go-live gate's, read by engine and page

__all__ = [
    "account_resets",
    "agent_scoreboard",
    "backtest_curve",
    "backtest_report",
    "backtest_runs",
    "backtest_trades",
    "candles",
    "command_outcome",
    "commands",
    "decision_detail",
    "decision_list",
    "engine_state",
    "equity_and_peak",
    "equity_curve",
    "equity_drawdown",
    "events",
    "exchange_status",
    "journal",
    "latest_evidence",
    "latest_metrics",
    "latest_trades",
    "llm_votes",
    "metrics_history",
    "open_positions",
    "pnl_today",
    "optimize_runs",
    "optimize_trials",
    "profit_by_day",
    "profit_by_pair",
    "protection_locks",
    "realised_pnl",
    "rejections",
    "resolved_votes",
    "trade_markers",
    "trade_summary",
    "trades",
    "trades_csv",
    "weight_history",
]
