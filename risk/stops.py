"""Stops for a long position, one candle at a time: the stop loss, take profit, trailing stop."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np


def stop_exit(
    open_: float, high: float, low: float, stop_loss: float, take_profit: float
) -> tuple[float, str] | None:
    """The exit this candle forces, as (price, reason), or None.

    A gap through the stop fills at the open, below the stop: never better than the stop.
    When one candle spans both levels, the stop is assumed first: the cautious reading.
    """
    if low <= stop_loss:
        return min(open_, stop_loss), "stop_loss"
    if high >= take_profit:
        return max(open_, take_profit), "take_profit"
    return None


def trail(stop_loss: float, peak: float, distance: float, high: float) -> tuple[float, float]:
    """After a candle that did not stop out: (stop, peak) with the stop raised under the new
    peak. The stop never moves down."""
    peak = max(peak, high)
    return max(stop_loss, peak - distance), peak


def stop_reason(stop_loss: float, entry: float, peak: float | None, distance: float | None) -> str:
    """`trailing_stop` once the trail has followed the price up and now sets the stop."""
    if distance and peak is not None and peak > entry and peak - distance >= stop_loss:
        return "trailing_stop"
    return "stop_loss"


@dataclass(frozen=True)
class StopWalk:
    """Where a position's stops stand after a run of candles, and the exit met if any."""

    stop_loss: float
    peak_price: float | None
    hit: tuple[Any, float, str] | None = None  # (candle, exit price, reason)


def walk_stops(
    stop_loss: float,
    take_profit: float,
    entry_price: float,
    peak_price: float | None,
    trail_distance: float | None,
    candles: Iterable[tuple[Any, float, float, float]],
) -> StopWalk:
    """`stop_exit` and `trail` over (candle, open, high, low) in order: the trail follows
    each candle that did not stop out, and the walk ends at the first exit."""
    for candle, open_, high, low in candles:
        hit = stop_exit(open_, high, low, stop_loss, take_profit)
        if hit is not None:
            price, reason = hit
            if reason == "stop_loss":
                reason = stop_reason(stop_loss, entry_price, peak_price, trail_distance)
            return StopWalk(stop_loss, peak_price, (candle, float(price), reason))
        if trail_distance:
            stop_loss, peak_price = trail(
                stop_loss, peak_price or entry_price, trail_distance, float(high)
            )
    return StopWalk(stop_loss, peak_price)


def trail_path(
    stop_loss: float, peak: float, distance: float, highs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`trail` over a run of candles at once, for backtests: (stops, peaks), where index i is
    the state in force when candle i opens and index len(highs) the state after the last.

    Each is the loop's own value to the bit: a running max is exact, and subtracting the
    same distance keeps the peaks' order, so max(stop, peak_i - distance) over i is the
    stop the loop reaches.
    """
    peaks = np.maximum.accumulate(np.concatenate(([peak], highs)))
    stops = np.maximum(stop_loss, peaks - distance)
    stops[0] = stop_loss  # the first candle meets the stop as it was given
    return stops, peaks
