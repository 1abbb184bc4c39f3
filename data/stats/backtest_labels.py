"""How a backtest's statistics are named wherever they are shown: the CLI and the page."""

STAT_LABELS = {
    "return_pct": "Return [%]",
    "annual_return_pct": "Return (ann.) [%]",
    "annual_volatility_pct": "Volatility (ann.) [%]",
    "sharpe": "Sharpe ratio",
    "sortino": "Sortino ratio",
    "max_drawdown_pct": "Max drawdown [%]",
    "win_rate_pct": "Win rate [%]",
    "profit_factor": "Profit factor",
    "trades": "Trades",
    "exposure_pct": "Exposure time [%]",
    "fees_paid": "Fees paid",
    "final_equity": "Final equity",
    "buy_and_hold_pct": "Buy & hold [%]",
    "candles": "Candles",
}
