"""Backtest speed, VOLT against backtesting.py on identical data and rules:
`python bench/backtest.py [--candles 500000] [--repeat 3]`.

One seeded synthetic pair (5-minute candles). Three timings, each the median of --repeat:
VOLT's full rule-based pipeline (indicators on the live window semantics, the three rule
agents, consensus with regime thresholds, RiskGate sizing and stops, paper fees and
slippage); VOLT running the single RSI rule (buy below 30, sell above 70) through the same
pipeline; backtesting.py running that RSI rule on the same candles and RSI values, with the
same fee. Both fill at the next candle's open: VOLT's default broker.fill_at, and
backtesting.py's default trade_on_close=False (its EntryBar is VOLT's decision row + 1).
Candle generation is not timed; indicators are.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agents.regime import RegimeLimits  # noqa: E402
from agents.rsi_rule import RsiRule  # noqa: E402
from config import load_config  # noqa: E402
from engine.backtest.candles import Market  # noqa: E402
from engine.backtest.runner import Prepared, evaluate, run_backtest  # noqa: E402
from engine.backtest.signals import team_votes  # noqa: E402
from engine.backtest.sizing import FixedAmount  # noqa: E402

# A fixed 0.1 BTC a trade and a deep account: the rule bleeds fees, and sizing by equity would
# reach fractions of a cent that backtesting.py's whole units cannot trade.
UNITS, CASH, FRACTION = 0.1, 1e9, 1e-8
from engine.venues.synthetic import SYNTHETIC_EPOCH, SyntheticFeed  # noqa: E402


def timed(work, repeat: int) -> tuple[float, object]:
    seconds, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = work()
        seconds.append(time.perf_counter() - began)
    return statistics.median(seconds), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candles", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.candles
    candles = SyntheticFeed(42, "5m").candles(
        "BTC/USDT", SYNTHETIC_EPOCH + timedelta(minutes=5 * n), n
    )
    settings = load_config(None)
    if settings.broker.fill_at != "next_open":
        sys.exit(f"bench: broker.fill_at is {settings.broker.fill_at!r}; it measures next_open")
    fee = settings.broker.fee_rate
    # backtesting.py charges its spread only on entry; compare the RSI rule without slippage.
    no_slip = settings.model_copy(
        update={"broker": settings.broker.model_copy(update={"slippage_rate": 0.0})}
    )
    market = Market(["BTC/USDT"], {"BTC/USDT": candles}, 300, 0, "synthetic seed 42")

    full_s, full = timed(lambda: run_backtest(settings, market), args.repeat)

    def volt_rsi():
        votes = team_votes(candles, [RsiRule()], RegimeLimits(), settings.market.history_candles)
        prepared = Prepared(no_slip, market, {"BTC/USDT": votes}, [])
        gate = FixedAmount(UNITS)
        return evaluate(prepared, {"rsi_rule": 1.0}, gate=gate), votes

    rsi_s, (rsi_result, votes) = timed(volt_rsi, args.repeat)

    from backtesting import Strategy
    from backtesting.lib import FractionalBacktest

    rsi = votes.frame["rsi"].to_numpy()

    class RsiStrategy(Strategy):
        def init(self):
            self.rsi = self.I(lambda: rsi, name="rsi", overlay=False)

        def next(self):
            if not self.position and self.rsi[-1] < 30:
                self.buy(size=round(UNITS / FRACTION))
            elif self.position and self.rsi[-1] > 70:
                self.position.close()

    data = candles.rename(columns=str.capitalize)
    data.index = data.index.tz_localize(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = FractionalBacktest(
            data,
            RsiStrategy,
            cash=CASH,
            commission=fee,
            fractional_unit=FRACTION,  # trade_on_close=False, its default: the next open
        )
        bt_s, bt_stats = timed(bt.run, args.repeat)

    print(f"candles: {n:,} (one pair, 5m), median of {args.repeat} runs, next-open fills")
    rows = [
        ("VOLT full pipeline", full_s, full.stats["trades"]),
        ("VOLT RSI rule", rsi_s, rsi_result.stats["trades"]),
        ("backtesting.py RSI rule", bt_s, len(bt_stats["_trades"])),
    ]
    theirs = bt_stats["_trades"]["EntryBar"].iloc[: len(rsi_result.trades)]
    same = list(rsi_result.trades["entry_row"] + 1) == list(theirs)
    for name, seconds, trades in rows:
        print(f"{name:<24} {seconds:7.2f} s  {n / seconds:>12,.0f} candles/s  {trades:>6} trades")
    print(
        f"RSI rule: VOLT is {bt_s / rsi_s:.1f}x backtesting.py (goal 5x); full pipeline "
        f"{bt_s / full_s:.1f}x (goal 1x); RSI trades identical entry candles: {same}"
    )


if __name__ == "__main__":
    main()
