"""`python -m engine import`: pair and timeframe from the name or the spacing, the gap policy
applied and said, one line per file, non-zero when a file is refused."""

import argparse
import json

import pandas as pd
import pytest

from data.candles import CandleDataError, CandleGapError, CandleStore
from data.candles.cli import add_arguments, run_import
from data.candles.importer import import_file
from tests.support.runs import run_engine

T0 = 1767225600000  # 2026-01-01 00:00 UTC in ms


def rows(minutes: list[int]) -> list[list[float]]:
    return [[T0 + m * 60_000, 100.0, 200.0, 99.0, 100.0 + i, 2.0] for i, m in enumerate(minutes)]


def write_json(path, minutes: list[int]):
    path.write_text(json.dumps(rows(minutes)))
    return path


@pytest.fixture
def store(tmp_path) -> CandleStore:
    return CandleStore(tmp_path / "store")


def test_pair_and_timeframe_come_from_a_freqtrade_name(tmp_path, store):
    path = write_json(tmp_path / "ETH_BTC-5m.json", [0, 5, 10])
    result = import_file(path, store, "binance")
    assert (result.pair, result.timeframe, result.added) == ("ETH/BTC", "5m", 3)
    assert len(store.read("binance", "ETH/BTC", "5m")) == 3
    assert result.line() == (
        "ETH_BTC-5m.json: ETH/BTC 5m (json), 3 candles 2026-01-01 00:00 → 2026-01-01 00:10 UTC, "
        f"no gaps; stored in {store.path('binance', 'ETH/BTC', '5m')} (3 new)"
    )


def test_the_timeframe_comes_from_the_spacing_when_the_name_does_not_say(tmp_path, store):
    path = write_json(tmp_path / "SOLUSDT.json", [0, 15, 30, 60])
    result = import_file(path, store, "binance")
    assert (result.pair, result.timeframe) == ("SOL/USDT", "15m")


def test_flags_override_the_name(tmp_path, store):
    path = write_json(tmp_path / "ETH_BTC-1m.json", [0, 1, 2])
    result = import_file(path, store, "kraken", pair="ETH/EUR", timeframe="1m")
    assert store.path("kraken", "ETH/EUR", "1m") == result.stored_at


def test_a_name_without_a_pair_asks_for_one(tmp_path, store):
    path = write_json(tmp_path / "candles.json", [0, 1, 2])
    with pytest.raises(CandleDataError, match="candles.json: cannot tell the pair.*--pair"):
        import_file(path, store, "binance")


def test_a_timeframe_the_candles_do_not_have_is_refused(tmp_path, store):
    path = write_json(tmp_path / "ETH_BTC-5m.json", [0, 1, 2])
    with pytest.raises(CandleDataError, match="1m apart, not 5m as the file's name says"):
        import_file(path, store, "binance")


def test_refuse_stores_nothing_and_names_the_gap(tmp_path, store):
    path = write_json(tmp_path / "ETH_BTC-1m.json", [0, 1, 4, 5])
    with pytest.raises(CandleGapError, match="item 3: gap: .* --gaps fill or --gaps split"):
        import_file(path, store, "binance", gaps="refuse")
    assert store.series() == []


def test_fill_stores_flat_candles_and_says_so(tmp_path, store):
    path = write_json(tmp_path / "ETH_BTC-1m.json", [0, 1, 4, 5])
    result = import_file(path, store, "binance", gaps="fill")
    assert len(store.read("binance", "ETH/BTC", "1m")) == 6
    assert "1 gap (2 candles missing; longest 2m from 2026-01-01 00:02) filled with 2 flat" in (
        result.line()
    )


def test_split_stores_the_real_candles_and_counts_the_segments(tmp_path, store):
    path = write_json(tmp_path / "ETH_BTC-1m.json", [0, 1, 4, 5, 6])
    result = import_file(path, store, "binance", gaps="split")
    assert len(store.read("binance", "ETH/BTC", "1m")) == 5
    assert "kept as 2 segments (longest 3 candles)" in result.line()
    assert store.series()[0].gaps == 1


def test_resample_on_import_stores_the_higher_timeframe(tmp_path, store):
    path = write_json(tmp_path / "ETH_BTC-1m.json", list(range(12)))
    result = import_file(path, store, "binance", resample_to="5m")
    stored = store.read("binance", "ETH/BTC", "5m")
    assert len(stored) == 2 and stored["volume"].tolist() == [10.0, 10.0]
    assert "resampled to 2 5m candles" in result.line()
    assert store.read("binance", "ETH/BTC", "1m").empty


def test_importing_again_adds_only_what_is_new(tmp_path, store):
    import_file(write_json(tmp_path / "ETH_BTC-1m.json", [0, 1, 2]), store, "binance")
    again = import_file(write_json(tmp_path / "ETH_BTC-1m.json", [1, 2, 3, 4]), store, "binance")
    assert again.added == 2 and len(store.read("binance", "ETH/BTC", "1m")) == 5


def run(store, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return run_import(parser.parse_args(list(argv)), "binance", store)


def test_the_command_prints_one_line_per_file_and_fails_on_a_refused_one(tmp_path, store, capsys):
    good = write_json(tmp_path / "ETH_BTC-1m.json", [0, 1, 2])
    bad = tmp_path / "LTC_BTC-1m.csv"
    bad.write_text("timestamp,open,high,low,close,volume\n2026-01-01,1,1,2,1,1\n")
    assert run(store, str(good), str(bad)) == 2
    out, err = capsys.readouterr()
    assert out.count("\n") == 1 and out.startswith("volt: ETH_BTC-1m.json: ETH/BTC 1m")
    assert err == f"volt: not imported: {bad} line 2: high 1 is below low 2\n"


def test_the_command_succeeds_when_every_file_goes_in(tmp_path, store, capsys):
    frame = pd.DataFrame(
        rows([0, 5, 10]), columns=["date", "open", "high", "low", "close", "volume"]
    )
    frame["date"] = pd.to_datetime(frame["date"], unit="ms", utc=True)
    frame.to_feather(tmp_path / "ETH_BTC-5m.feather")
    assert run(store, str(tmp_path / "ETH_BTC-5m.feather"), "--exchange", "kraken") == 0
    assert "stored in" in capsys.readouterr().out
    assert store.series()[0].exchange == "kraken"


def test_python_m_engine_import_stores_under_volt_home(tmp_path, volt_home):
    path = write_json(tmp_path / "ETH_BTC-1m.json", [0, 1, 3])
    done = run_engine("import", str(path), "--gaps", "fill", VOLT_HOME=str(volt_home))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("volt: ETH_BTC-1m.json: ETH/BTC 1m (json), 3 candles")
    assert "filled with 1 flat candle;" in done.stdout
    assert len(CandleStore(volt_home / "candles").read("binance", "ETH/BTC", "1m")) == 4
    refused = run_engine("import", str(path), "--gaps", "refuse", VOLT_HOME=str(volt_home))
    assert refused.returncode == 2 and "item 3: gap:" in refused.stderr
