"""`backtest --data` takes any candle file `engine import` reads, or stored series, one per
pair; several at once; pairs from the names; gaps refused, filled or split on request."""

import pandas as pd
import pytest

from config import load_config
from data.candles import CandleDataError, CandleGapError, CandleStore
from engine.backtest.cli import load_market
from engine.backtest.sources import parse_source, source_pairs
from engine.venues.synthetic import SyntheticFeed
from tests.support.runs import START, run_engine

CANDLES = 600  # above the team's warm-up


def candles(seed: int, drop: int | None = None) -> pd.DataFrame:
    frame = SyntheticFeed(seed, "5m").candles("BTC/USDT", START, CANDLES)
    return frame.drop(frame.index[drop]) if drop is not None else frame


def write_feather(path, frame: pd.DataFrame) -> str:
    frame.rename_axis("date").reset_index().to_feather(path)
    return str(path)


def test_two_files_given_at_once_trade_the_pairs_their_names_say(tmp_path):
    eth = write_feather(tmp_path / "ETH_BTC-5m.feather", candles(1))
    ltc = write_feather(tmp_path / "LTC_BTC-5m.feather", candles(2))
    market = load_market(load_config(), {"data": [eth, ltc]})
    assert market.pairs == ["ETH/BTC", "LTC/BTC"]
    assert len(market.index) == CANDLES


def test_a_stored_series_is_named_exchange_pair_timeframe(volt_home):
    CandleStore.default().write("binance", "ETH/BTC", "5m", candles(3))
    market = load_market(load_config(), {"data": ["binance:ETH/BTC:5m"]})
    assert market.pairs == ["ETH/BTC"] and len(market.index) == CANDLES


def test_a_gap_is_refused_with_the_way_out_or_split_on_request(tmp_path):
    path = write_feather(tmp_path / "ETH_BTC-5m.feather", candles(4, drop=450))
    with pytest.raises(CandleGapError, match="--gaps fill or --gaps split"):
        load_market(load_config(), {"data": [path]})
    split = load_market(load_config(), {"data": [path], "gaps": "split"})
    assert len(split.index) == 450  # the longer side of the gap
    filled = load_market(load_config(), {"data": [path], "gaps": "fill"})
    assert len(filled.index) == CANDLES


def test_a_name_without_a_pair_needs_pairs(tmp_path):
    path = write_feather(tmp_path / "candles.feather", candles(5))
    with pytest.raises(CandleDataError, match="give --pairs"):
        source_pairs([parse_source(path)], None)
    assert source_pairs([parse_source(path)], ["ETH/BTC"]) == ["ETH/BTC"]


def test_the_cli_backtests_imported_files_and_exports_the_report(volt_home, tmp_path):
    eth = write_feather(tmp_path / "ETH_BTC-5m.feather", candles(6))
    ltc = write_feather(tmp_path / "LTC_BTC-5m.feather", candles(7))
    out = tmp_path / "report"
    done = run_engine("backtest", "--data", eth, ltc, "--draws", "20", "--export", str(out))
    assert done.returncode == 0, done.stderr
    assert "backtest of ETH/BTC, LTC/BTC" in done.stdout
    assert sorted(p.name for p in out.iterdir()) == ["equity.csv", "report.html", "trades.csv"]
