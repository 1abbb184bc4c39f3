"""`python -m engine download` against a loopback server speaking Binance's kline REST
format: paging within the server's cap, incremental runs, resuming after an interruption,
and only closed candles stored."""

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from config import load_config
from data.candles.store import CandleStore
from engine.venues.ccxt.download import CandleDownload, DownloadError
from engine.venues.ccxt.download_command import public_settings
from engine.venues.ccxt.exchange import make_exchange
from engine.wiring import venue_rules
from tests.support.fake_klines import FakeKlines
from tests.support.runs import free_port, run_engine

STEP = timedelta(minutes=5)
HISTORY = datetime(2024, 1, 1, tzinfo=UTC)
# 1200 closed candles, the 1201st forming for 2.5 minutes.
NOW = HISTORY + 1200 * STEP + timedelta(minutes=2, seconds=30)
CAP = 500  # the server's most candles per request


@pytest.fixture
def server():
    fake = FakeKlines(HISTORY, NOW, max_limit=CAP).start()
    yield fake
    fake.stop()


@pytest.fixture
def store(tmp_path) -> CandleStore:
    return CandleStore(tmp_path / "candles")


def config_file(tmp_path, base_url: str):
    path = tmp_path / "download.toml"
    path.write_text(f'[exchange]\nbase_url = "{base_url}"\ntimeout_seconds = 3.0\n')
    return path


@pytest.fixture
def download(tmp_path, server, store, monkeypatch):
    monkeypatch.setattr("engine.venues.retry.FIRST_WAIT_SECONDS", 0.01)  # backoff is wall time
    settings = public_settings(load_config(config_file(tmp_path, server.url)), None)
    client = make_exchange(settings, None, venue_rules(settings))
    return CandleDownload(client, store, "5m", show_progress=False)


def stored(store: CandleStore) -> pd.DataFrame:
    return store.read("binance", "BTC/USDT", "5m")


def same_candles(stored: pd.DataFrame, expected: pd.DataFrame) -> None:
    """The same candles at the same open times (whatever time unit the store keeps)."""
    pd.testing.assert_frame_equal(stored, expected, check_index_type=False)


def test_a_first_download_pages_within_the_exchange_limit(download, server, store):
    result = download.pair("BTC/USDT", HISTORY, NOW)

    assert result.added == 1200
    assert len(server.klines_requests) == 3  # 500 + 500 + 200 under the server's cap
    assert server.starts_asked() == [
        int((HISTORY + n * STEP).timestamp() * 1000) for n in (0, 500, 1000)
    ]
    same_candles(stored(store), server.closed_candles("BTCUSDT", "5m"))


def test_the_candle_still_forming_is_not_stored(download, server, store):
    download.pair("BTC/USDT", HISTORY, NOW)

    forming = HISTORY + 1200 * STEP
    assert server.klines_requests[-1]["endTime"] == str(int(forming.timestamp() * 1000) - 1)
    assert stored(store).index[-1] == forming - STEP


def test_a_second_run_fetches_only_the_missing_tail(download, server, store):
    download.pair("BTC/USDT", HISTORY, NOW)
    server.set_now(NOW + 30 * STEP)
    server.klines_requests.clear()

    again = download.pair("BTC/USDT", HISTORY, NOW + 30 * STEP)

    assert again.added == 30
    assert server.starts_asked() == [int((HISTORY + 1200 * STEP).timestamp() * 1000)]
    same_candles(stored(store), server.closed_candles("BTCUSDT", "5m"))


def test_a_run_with_nothing_new_asks_the_exchange_nothing(download, server, store):
    download.pair("BTC/USDT", HISTORY, NOW)
    server.klines_requests.clear()

    again = download.pair("BTC/USDT", HISTORY, NOW)

    assert (again.added, again.requests, server.klines_requests) == (0, 0, [])


def test_an_earlier_start_fetches_only_the_head_the_store_lacks(download, server, store):
    download.pair("BTC/USDT", HISTORY + 1000 * STEP, NOW)
    server.klines_requests.clear()

    earlier = download.pair("BTC/USDT", HISTORY, NOW)

    assert earlier.added == 1000
    assert server.starts_asked() == [int((HISTORY + n * STEP).timestamp() * 1000) for n in (0, 500)]
    same_candles(stored(store), server.closed_candles("BTCUSDT", "5m"))


def test_an_interrupted_download_resumes_where_it_stopped(download, server, store):
    server.fail_after = 2  # two pages answered, then the exchange fails

    with pytest.raises(DownloadError, match="run the same command again to resume"):
        download.pair("BTC/USDT", HISTORY, NOW)
    assert len(stored(store)) == 1000  # the pages that arrived are kept

    server.fail_after = None
    server.klines_requests.clear()
    resumed = download.pair("BTC/USDT", HISTORY, NOW)

    assert resumed.added == 200
    assert server.starts_asked() == [int((HISTORY + 1000 * STEP).timestamp() * 1000)]
    candles = stored(store)
    assert candles.index.is_unique and (candles.index.diff()[1:] == STEP).all()
    same_candles(candles, server.closed_candles("BTCUSDT", "5m"))


# --- the command line ----------------------------------------------------------------------


@pytest.fixture
def live_server():
    """The loopback exchange on the real clock: the command downloads up to now."""
    now = datetime.now(UTC)
    fake = FakeKlines(now - timedelta(days=3), now, max_limit=CAP).start()
    yield fake
    fake.stop()


def test_the_command_downloads_and_says_what_it_stored(tmp_path, live_server):
    config = config_file(tmp_path, live_server.url)
    home = tmp_path / "home"

    result = run_engine(
        "download", "--config", str(config), "--pairs", "BTC/USDT", "ETH/USDT",
        "--timeframe", "5m", "--days", "2", VOLT_HOME=str(home),
    )  # fmt: skip

    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("volt: BTC/USDT 5m from binance: ")
    assert lines[1].startswith("volt: ETH/USDT 5m from binance: ")
    store = CandleStore(home / "candles")
    assert 575 <= len(store.read("binance", "ETH/USDT", "5m")) <= 576  # two days of 5m


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--pairs", "DOGE/USDT"], "--pairs DOGE/USDT: binance has no such market"),
        (["--timeframe", "7m"], "--timeframe 7m: binance offers 1s, 1m"),
    ],
)
def test_a_bad_pair_or_timeframe_is_one_clear_line(tmp_path, live_server, args, says):
    config = config_file(tmp_path, live_server.url)

    result = run_engine(
        "download", "--config", str(config), "--days", "1", *args, VOLT_HOME=str(tmp_path)
    )

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"volt: download: {says}")


def test_an_unreachable_host_is_one_clear_line(tmp_path):
    config = config_file(tmp_path, f"http://127.0.0.1:{free_port()}")

    result = run_engine(
        "download", "--config", str(config), "--pairs", "BTC/USDT", "--days", "1",
        VOLT_HOME=str(tmp_path),
    )  # fmt: skip

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("volt: download: binance unreachable: ")
