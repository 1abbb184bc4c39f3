"""The evidence a search leaves for the go-live gate: the held-out result of the configured
settings and of the chosen ones, each under its strategy fingerprint."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from config.fingerprint import strategy_fingerprint
from config.search_space import apply_params
from data.store.evidence import record_evidence
from engine.search.overfitting import Overfitting, judge
from engine.search.verdict import HeldOut, Outcome


def evidence_gap(search) -> str | None:
    """Why this search's result says nothing about the config trading live, or None: the go-live
    gate takes evidence only from real candles of the config's own pairs and timeframe."""
    settings, market = search.settings, search.market
    if not search.request.get("data"):
        return "the search ran on the simulated market"
    if set(market.pairs) != set(settings.market.pairs):
        return (
            f"the search ran on {', '.join(market.pairs)}, the config trades "
            f"{', '.join(settings.market.pairs)}"
        )
    if market.step_seconds != settings.timeframe_seconds:
        return f"the search's candles are not the config's {settings.market.timeframe}"
    return None


def record_search_evidence(engine: Engine, run_id: int, search, outcome: Outcome) -> str | None:
    """One row for the defaults (their own probabilistic Sharpe ratio: the search did not
    choose them) and, when it differs, one for the best trial (deflated for every trial).
    None when filed; else why nothing was (`evidence_gap`)."""
    gap = evidence_gap(search)
    if gap is not None:
        return gap
    in_sample = search.bench.in_sample(search.settings)
    defaults_fit = judge(in_sample.shape, [in_sample.shape.sharpe])
    _record(
        engine,
        run_id,
        search,
        search.fingerprint,
        outcome.defaults,
        defaults_fit,
        f"optimize run #{run_id} (study {search.name}): the configured settings",
    )
    if outcome.best_params:
        chosen = apply_params(search.settings, outcome.best_params)
        _record(
            engine,
            run_id,
            search,
            strategy_fingerprint(chosen),
            outcome.chosen,
            outcome.overfitting,
            f"optimize run #{run_id} (study {search.name}): trial #{outcome.best_number}",
        )


def _record(engine, run_id, search, fingerprint: str, held: HeldOut, fit: Overfitting, source):
    f = held.figures()
    record_evidence(
        engine,
        fingerprint=fingerprint,
        source=source,
        span_start=datetime.fromisoformat(search.identity["in_sample"][0][0]),
        span_end=datetime.fromisoformat(search.held_span[1]),
        held_out_start=datetime.fromisoformat(search.held_span[0]),
        held_out_end=datetime.fromisoformat(search.held_span[1]),
        return_pct=f["return_pct"],
        sharpe=f["sharpe"],
        buy_and_hold_pct=f["buy_and_hold_pct"],
        buy_and_hold_sharpe=f["buy_and_hold_sharpe"],
        trades=int(f["trades"]),
        p_value=f["p_value"],
        overfit_name=fit.name if fit.trials > 1 else "probabilistic Sharpe ratio",
        overfit_value=fit.value if fit.value == fit.value else None,
        overfit=fit.overfit and fit.trials > 1,  # the defaults were not chosen by a search
        trials=fit.trials,
        run_id=run_id,
    )
