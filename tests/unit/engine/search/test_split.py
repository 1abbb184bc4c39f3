"""The search's split: in-sample folds, then a held-out window at the end it never sees."""

import pytest

from engine.backtest.candles import CandleDataError, synthetic_market
from engine.search.split import span_text, split_market


@pytest.fixture(scope="module")
def market():
    return synthetic_market(7, ["BTC/USDT"], "5m", None, None, 300)


def test_the_held_out_window_is_the_last_share_of_the_decided_span(market):
    split = split_market(market, 3, 0.25, 299)
    end = len(market.index)
    assert split.held_out[1] == end
    assert end - split.held_out[0] == round((end - 299) * 0.25)
    assert split.in_sample[-1][1] == split.held_out[0]  # nothing between, nothing shared


def test_folds_are_equal_and_follow_each_other_from_the_first_decision(market):
    split = split_market(market, 4, 0.2, 299)
    assert split.first == 299 and len(split.in_sample) == 4
    sizes = [stop - start for start, stop in split.in_sample]
    assert len(set(sizes[:-1])) == 1 and 0 <= sizes[-1] - sizes[0] < 4  # the last: the remainder
    for (_, stop), (start, _) in zip(split.in_sample, split.in_sample[1:], strict=False):
        assert stop == start


def test_a_span_too_short_for_its_folds_is_refused_in_one_line(market):
    with pytest.raises(CandleDataError, match="too few for 40 folds"):
        split_market(market, 40, 0.25, len(market.index) - 1000)


def test_a_held_out_share_outside_zero_to_one_is_refused(market):
    with pytest.raises(ValueError, match="--holdout"):
        split_market(market, 3, 1.5, 299)


def test_spans_are_the_decision_candles_closes(market):
    first, last = span_text(market, (299, 400))
    assert first.startswith(str(market.index[300].date()))
    assert last > first
