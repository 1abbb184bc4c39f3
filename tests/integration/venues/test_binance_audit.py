"""The auditor on real Binance fills: the fee taken in the coin bought and the lot-size
rounding are not violations; a fill the book ran dry on is."""

import logging
from datetime import UTC, datetime

from engine.trading.execution import send
from tests.support.binance import approve_buy


def audited(trader, caplog):  # noqa: F811
    with caplog.at_level(logging.WARNING, logger="volt.trader"):
        fill, audit = send(trader.account, approve_buy(trader), datetime.now(UTC))
    findings = [r.getMessage() for r in caplog.records if "auditor" in r.getMessage()]
    assert bool(audit) == bool(findings)  # what is logged is what goes on the decision
    return fill, findings


def test_a_clean_market_buy_passes_the_auditor(trader, fake, caplog):  # noqa: F811
    fill, findings = audited(trader, caplog)
    assert fill.amount < fill.filled  # the fee came out of the coins bought
    assert findings == []


def test_a_buy_the_book_filled_halfway_is_a_partial_fill(trader, fake, caplog):  # noqa: F811
    fake.fill_ratio = 0.5
    _, findings = audited(trader, caplog)
    (finding,) = findings
    assert "partial fill" in finding and "-50.00%" in finding
