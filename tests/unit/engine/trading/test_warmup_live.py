"""The live loop decides nothing before every window its team reads is warm, and `python -m
engine check` refuses a window too short to ever warm up."""

import logging
from datetime import timedelta

from sqlalchemy import func, select

from data.store.models import Decision
from engine.runtime.cli import main
from engine.venues.synthetic import SYNTHETIC_EPOCH
from tests.support.runs import run_ticks

STEP = timedelta(minutes=5)
WARMUP = 241  # the default team on 300 candles: the regime's 240-return volatility baseline


def test_the_trader_waits_for_the_teams_warm_up(trader_factory):
    trader, _ = trader_factory()
    assert trader.team.warmup == WARMUP


def test_a_pair_with_a_short_history_gets_no_decision_until_it_is_warm(
    trader_factory, store, caplog
):
    # The synthetic market starts at its epoch: 230 candles have closed when the run begins.
    trader, clock = trader_factory(start=SYNTHETIC_EPOCH + 230 * STEP)
    caplog.set_level(logging.INFO, logger="volt.trader")
    run_ticks(trader, clock, market_hours=10 * 5 / 60)  # candles 231 to 240: still cold
    with store[1]() as session:
        assert session.scalar(select(func.count(Decision.id))) == 0
    warming = [r.getMessage() for r in caplog.records if "warming up" in r.getMessage()]
    assert "BTC/USDT: warming up, 230 of 241 candles; no decision until every window is warm" in (
        warming
    )
    assert len(warming) == len(trader.pairs)  # said once per pair, not every candle

    run_ticks(trader, clock, market_hours=3 * 5 / 60)
    with store[1]() as session:
        first = session.scalar(select(func.min(Decision.candle_ts)))
        pairs = session.scalar(select(func.count(func.distinct(Decision.pair))))
    # The first decision is on the 241st candle, the first with every window full.
    assert first.replace(tzinfo=None) == (SYNTHETIC_EPOCH + (WARMUP - 1) * STEP).replace(
        tzinfo=None
    )
    assert pairs == len(trader.pairs)


def test_check_refuses_a_window_shorter_than_the_warm_up(tmp_path, volt_home, capsys):
    config = tmp_path / "short.toml"
    config.write_text("[market]\nhistory_candles = 120\n")
    assert main(["check", "--config", str(config)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(
        "volt: configuration error: market.history_candles 120 is under the team's warm-up "
        "of 200 candles"
    )
    assert "regime reading 200" in err and "set it to at least 200" in err
    assert len(err.splitlines()) == 1


def test_check_accepts_the_default_window(volt_home, capsys):
    assert main(["check"]) == 0
    assert capsys.readouterr().out.startswith("volt: config ok")
