"""The dashboard bench's database (bench/seed_dashboard.py) holds what it is asked for, at a
small scale: the counts scaled, every decision with its votes, every trade with its orders."""

from sqlalchemy import func, select

from bench.seed_dashboard import FULL, row_counts, scaled, seed
from data.store.db import make_engine
from data.store.models import Decision, JournalEntry, Trade, VoteRow

SCALE = 0.001


def _seeded(volt_home):
    engine = make_engine()
    seed(engine, SCALE)
    return engine


def test_the_counts_are_the_full_counts_scaled(volt_home):
    counts = row_counts(_seeded(volt_home))
    asked = scaled(SCALE)
    assert asked["candles"] == FULL["candles"] * SCALE == 1000
    for table in ("candles", "decisions", "trades", "equity", "events", "commands",
                  "system_metrics", "rejections", "backtest_runs"):  # fmt: skip
        assert counts[table] == asked[table], table


def test_every_decision_carries_three_or_four_votes(volt_home):
    engine = _seeded(volt_home)
    per_decision = (
        select(func.count(VoteRow.id).label("votes"))
        .join(Decision, Decision.id == VoteRow.decision_id)
        .group_by(Decision.id)
        .subquery()
    )
    with engine.connect() as conn:
        fewest, most = conn.execute(
            select(func.min(per_decision.c.votes), func.max(per_decision.c.votes))
        ).one()
        with_votes = conn.execute(select(func.count()).select_from(per_decision)).scalar()
    assert (fewest, most) == (3, 4)
    assert with_votes == scaled(SCALE)["decisions"]


def test_every_trade_has_its_entry_and_exit_order_and_fills(volt_home):
    counts = row_counts(_seeded(volt_home))
    trades, positions = counts["trades"], counts["positions"]
    assert counts["fills"] == 2 * trades
    assert counts["orders"] == 2 * trades + positions


def test_each_executed_decision_has_a_journal_entry_on_a_trade(volt_home):
    engine = _seeded(volt_home)
    with engine.connect() as conn:
        executed = conn.execute(select(func.count()).where(Decision.executed.is_(True))).scalar()
        journal = conn.execute(select(JournalEntry.decision_id, JournalEntry.trade_id)).all()
        trade_ids = set(conn.execute(select(Trade.id)).scalars())
    assert executed > 0 and len(journal) == executed
    assert {trade for _, trade in journal if trade is not None} <= trade_ids
