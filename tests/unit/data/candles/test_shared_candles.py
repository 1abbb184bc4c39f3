"""The real candles in ../shared/data/candles/ import with the counts and spans its README
states (skipped where the folder is absent)."""

from pathlib import Path

import pytest

from data.candles import CandleStore
from data.candles.importer import import_file

SHARED = Path(__file__).resolve().parents[5] / "shared" / "data" / "candles"
# From the folder's README: file, candles, first and last open time (UTC).
README = [
    ("ETH_BTC-5m.feather", 5760, "2018-01-10 04:55", "2018-01-30 04:50"),
    ("LTC_BTC-5m.feather", 5760, "2018-01-10 04:55", "2018-01-30 04:50"),
    ("DASH_BTC-5m.feather", 5758, "2018-01-10 04:55", "2018-01-30 04:50"),
    ("ETC_BTC-5m.feather", 5759, "2018-01-10 04:55", "2018-01-30 04:45"),
    ("TRX_BTC-5m.feather", 5754, "2018-01-10 04:55", "2018-01-30 04:50"),
    ("UNITTEST_BTC-1m.json", 13681, "2017-11-04", "2017-11-14"),
]


@pytest.mark.parametrize(("name", "count", "first", "last"), README, ids=[r[0] for r in README])
def test_each_shared_file_imports_with_the_readmes_count_and_span(
    tmp_path, name, count, first, last
):
    if not (SHARED / name).exists():
        pytest.skip(f"{SHARED / name} is absent")
    store = CandleStore(tmp_path / "store")
    result = import_file(SHARED / name, store, "binance")
    stored = store.read("binance", result.pair, result.timeframe)
    assert result.added == len(stored) == count
    assert f"{stored.index[0]:%Y-%m-%d %H:%M}".startswith(first)
    assert f"{stored.index[-1]:%Y-%m-%d %H:%M}".startswith(last)
    expected_step = 60 if name.endswith("-1m.json") else 300
    span_candles = (stored.index[-1] - stored.index[0]).total_seconds() // expected_step + 1
    assert sum(gap.missing for gap in result.gaps) == span_candles - count
