"""The Trades page's reads: totals summed by the database, the newest trades, and a CSV
export byte-for-byte what pandas' own per-value formatting wrote."""

import pytest

from data import queries
from tests.support.trades import reference_csv, trades_frame


@pytest.mark.parametrize("count", [0, 1, 50, 3000])
def test_csv_export_is_byte_for_byte_the_per_value_format(count):
    frame = trades_frame(max(count, 6)).head(count)
    assert queries.trades_csv(frame) == reference_csv(frame)


def test_summary_of_an_empty_store(store):
    assert queries.trade_summary(store[0]) == {"trades": 0, "wins": 0, "pnl": 0.0, "fees": 0.0}
