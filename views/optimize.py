"""The Backtest page's Optimize view: start a strategy search, watch it, judge it on the window
it never saw, and write its chosen parameters as a new config file.

Like backtests, the page never searches itself (pages do not import the engine): it stores an
`optimize` command and starts `python -m engine optimize --command ID`, which records its run,
each finished trial and the verdict; a `stop_optimize` command ends it after its running
trials. The running config is never written: Apply makes a new file.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, time
from pathlib import Path

import pandas as pd
import streamlit as st

from config import ConfigError, Settings
from config.fingerprint import strategy_fingerprint
from config.search_space import OBJECTIVES, SearchSpaceError, changed_sections
from config.writing import write_config
from data import queries
from data.store.db import volt_home
from views import ui
from views.backtest_files import inside
from views.optimize_figures import (
    comparison_table,
    importance_figure,
    objective_label,
    recommends_chosen,
    scatter_figure,
    trials_table,
)

SOURCES = ["Synthetic market", "Candle files or stored series"]
FINISHED = ("done", "stopped", "failed")


def render(cfg: Settings) -> None:
    st.caption(
        "Search the strategy's settings (thresholds, weights, ATR multiples, risk per trade, "
        "indicator periods) with Optuna on in-sample folds, then judge the best on a held-out "
        "window the search never sees, against the configured defaults and buy & hold."
    )
    start_form(cfg)
    command_panel()
    runs = queries.optimize_runs(ui.store()[0])
    if runs.empty:
        st.info(
            "No searches yet. Pick data and a span above and press **Start the search**, or "
            "from a terminal: `python -m engine optimize --synthetic 42 --from 2026-01-01 "
            "--to 2026-02-15 --trials 50`."
        )
        return
    run = pick_run(runs)
    run_panel(int(run["id"]), run["status"])
    trials = queries.optimize_trials(ui.store()[0], int(run["id"]))
    verdict(run)
    trial_views(run, trials)
    apply_panel(cfg, run)


def start_form(cfg: Settings) -> None:
    opt = cfg.optimize
    with st.form("optimize_form"):
        source = st.radio("Data", SOURCES, horizontal=True, key="optimize_source")
        left, right = st.columns(2)
        market_seed = left.number_input(
            "Synthetic market seed", min_value=0, value=cfg.feed.seed, key="optimize_market"
        )
        data = right.text_area(
            "Candle files or stored series, one a line (a path on this machine, or "
            "binance:ETH/BTC:5m)",
            key="optimize_data",
        )
        pairs = left.multiselect(
            "Pairs (files: from their names when none is picked)",
            list(cfg.market.pairs),
            default=list(cfg.market.pairs)[:1],
            key="optimize_pairs",
        )
        gaps = right.selectbox(
            "Gaps in the candles", ["refuse", "fill", "split"], key="optimize_gaps"
        )
        first, last = st.columns(2)
        start = first.date_input(
            "From, UTC day (empty: the data's first candle)", value=None, key="optimize_from"
        )
        end = last.date_input(
            "To, UTC day (empty: its last; a synthetic market: 30 days)",
            value=None,
            key="optimize_to",
        )
        cols = st.columns(3)
        trials = cols[0].number_input(
            "Trials", min_value=1, max_value=100_000, value=opt.trials, key="optimize_trials"
        )
        objective = cols[1].selectbox(
            "Objective (after costs)",
            OBJECTIVES,
            index=OBJECTIVES.index(opt.objective),
            format_func=objective_label,
            key="optimize_objective",
        )
        folds = cols[2].number_input(
            "In-sample folds", min_value=1, max_value=20, value=opt.folds, key="optimize_folds"
        )
        holdout = cols[0].number_input(
            "Held-out share (the last part of the span, never searched)",
            min_value=0.05, max_value=0.85, value=float(opt.holdout), step=0.05,
            key="optimize_holdout",
        )  # fmt: skip
        seed = cols[1].number_input(
            "Search seed (empty: a new search each time)",
            min_value=0, value=None, step=1, key="optimize_seed",
        )  # fmt: skip
        min_trades = cols[2].number_input(
            "Fewest in-sample trades", min_value=0, value=opt.min_trades, key="optimize_min_trades"
        )
        study = st.text_input(
            "Study name (optional: the same name resumes a study)", key="optimize_study"
        )
        submitted = st.form_submit_button("Start the search", type="primary")
    if not submitted:
        return
    payload, problem = search_request(
        source, market_seed, data, pairs, gaps, start, end, study,
        trials=int(trials), objective=objective, folds=int(folds), holdout=float(holdout),
        seed=None if seed is None else int(seed), min_trades=int(min_trades),
    )  # fmt: skip
    if problem:
        st.error(f"Cannot start: {problem}.")
        return
    command_id = ui.send_command("optimize", payload)
    ui.launch_engine_command("optimize", command_id)
    st.session_state["optimize_command"] = command_id


def search_request(source, market_seed, data, pairs, gaps, start, end, study, **knobs):
    """The `optimize` command's payload from the form, or the reason it cannot run."""
    payload = {key: value for key, value in knobs.items() if value is not None}
    for key, day in (("start", start), ("end", end)):
        if day is not None:
            payload[key] = datetime.combine(day, time(), UTC).isoformat()
    if start is not None and end is not None and start >= end:
        return payload, "the span's start must come before its end"
    if study.strip():
        payload["study"] = study.strip()
    if source == SOURCES[0]:
        if not pairs:
            return payload, "pick at least one pair"
        payload.update(synthetic=int(market_seed), pairs=list(pairs))
        return payload, None
    files = [line.strip() for line in data.splitlines() if line.strip()]
    if not files:
        return payload, "give at least one candle file or stored series"
    payload.update(data=files, gaps=gaps)
    if pairs:
        payload["pairs"] = list(pairs)
    return payload, None


def command_panel() -> None:
    """This session's search until its run row appears (loading candles takes a while), or
    why its command failed."""
    command_id = st.session_state.get("optimize_command")
    if command_id is None:
        return

    @st.fragment(run_every=1.0)
    def waiting() -> None:
        runs = queries.optimize_runs(ui.store()[0])
        if not runs.empty and (runs["command_id"] == command_id).any():
            if st.session_state.get("optimize_waiting") == command_id:
                st.session_state["optimize_waiting"] = None
                st.rerun()  # the whole page: the new run in the picker
            return
        sent = queries.commands(ui.store()[0], limit=20, kinds=("optimize",))
        sent = sent[sent["id"] == command_id] if not sent.empty else sent
        if not sent.empty and sent.iloc[0]["status"] == "failed":
            st.error(f"The search did not start: {sent.iloc[0]['result']}")
            return
        st.session_state["optimize_waiting"] = command_id
        st.progress(0.0, text="Starting the search: loading the candles, building the study…")

    waiting()


def pick_run(runs: pd.DataFrame) -> pd.Series:
    command_id = st.session_state.get("optimize_command")
    mine = runs.index[runs["command_id"] == command_id]
    names = [
        f"#{row['id']} {row['study']} · {row['status']} · "
        f"{row['trials_done']}/{row['trials_asked']} trials"
        for _, row in runs.iterrows()
    ]
    if len(mine) and st.session_state.get("optimize_selected_for") != command_id:
        # The search this session started shows as soon as its run exists, even when another
        # is picked (a kept pick outlives `index`); once, so the trader may pick another.
        st.session_state["optimize_selected_for"] = command_id
        st.session_state["optimize_run"] = names[int(mine[0])]
    shown = st.selectbox("Search", names, key="optimize_run")
    run = runs.iloc[names.index(shown)]
    spans = run["spans"] or {}
    folds, held = spans.get("in_sample") or [], spans.get("held_out") or []
    span = (
        f" · in sample {folds[0][0][:16]} .. {folds[-1][1][:16]} in {len(folds)} folds · held "
        f"out {held[0][:16]} .. {held[1][:16]} UTC"
        if folds and held
        else ""
    )
    st.caption(
        f"{run['source']} · {run['pairs']} · {run['timeframe']} · objective "
        f"{objective_label(run['objective'])}{span} · study in {run['storage']}"
    )
    return run


def run_panel(run_id: int, status_seen: str) -> None:
    """Progress, and a Stop button while the search runs; follows it live."""

    @st.fragment(run_every=1.0 if status_seen not in FINISHED else None)
    def progress() -> None:
        runs = queries.optimize_runs(ui.store()[0], limit=200)
        run = runs[runs["id"] == run_id].iloc[0]
        if run["status"] != status_seen and run["status"] in FINISHED:
            st.rerun()  # the verdict and the importances are written at the end
        done, asked = int(run["trials_done"]), int(run["trials_asked"])
        text = f"Search #{run_id}: {done} of {asked} trials recorded · {run['status']}"
        st.progress(min(1.0, done / asked) if asked else 0.0, text=text)
        if run["status"] == "failed":
            st.error(f"The search failed: {run['message']}")
        elif run["status"] == "stopped":
            st.info("Stopped from the dashboard or with Ctrl-C: every finished trial was kept.")
        elif run["status"] == "stopping":
            st.info("Stopping: no new trials start; the running ones finish and are kept.")
        elif run["status"] == "running" and st.button("Stop the search", key="optimize_stop"):
            ui.send_command("stop_optimize", {"run_id": run_id})
            st.info("Stop asked: no new trials start; every finished trial is kept.")

    progress()


def verdict(run: pd.Series) -> None:
    """The held-out comparison, prominently: does the chosen beat the defaults?"""
    summary = run["summary"] or {}
    if not summary:
        if run["status"] not in FINISHED:
            st.caption("The held-out comparison is shown when the search ends.")
        return
    st.subheader("Held out: never seen by the search")
    advice = summary.get("advice", "")
    if recommends_chosen(summary, run["best_params"]):
        st.success(f"**The chosen parameters beat the defaults out of sample.** {advice}")
    else:
        st.warning(f"**Keep the defaults.** {advice}")
    chosen, defaults = summary.get("chosen") or {}, summary.get("defaults") or {}
    overfit = summary.get("overfitting") or {}
    cols = ui.metric_cells(5)
    cols[0].metric(f"Chosen (trial #{summary.get('best_number')})", _pct(chosen.get("return_pct")))
    cols[1].metric("Defaults", _pct(defaults.get("return_pct")))
    cols[2].metric("Buy & hold", _pct(defaults.get("buy_and_hold_pct")))
    cols[3].metric("Chance p (chosen)", _num(chosen.get("p_value")))
    cols[4].metric(
        _first_upper(overfit.get("name", "overfitting")),
        _num(overfit.get("value")),
        f"over {overfit.get('trials', '?')} trials: "
        + ("OVERFIT" if overfit.get("overfit") else "edge survives"),
        delta_color="inverse" if overfit.get("overfit") else "normal",
        delta_arrow="off",
    )
    st.dataframe(comparison_table(summary).round(3), width="stretch", key="optimize_comparison")
    st.caption(
        f"Objective: {objective_label(summary.get('objective', run['objective']))}, after fees "
        "and slippage. The chance p is the share of random-entry runs that did as well; the "
        "deflated Sharpe ratio discounts the best trial's Sharpe for the number of trials tried "
        "(below 0.95: its edge is within their luck)."
    )


def trial_views(run: pd.Series, trials: pd.DataFrame) -> None:
    if trials.empty:
        st.caption("No trial has finished yet.")
        return
    best = (run["summary"] or {}).get("best_number")
    st.subheader("Trials")
    st.dataframe(
        trials_table(trials, run["objective"]),
        width="stretch",
        hide_index=True,
        key="optimize_trials_table",
    )
    left, right = st.columns(2)
    right.plotly_chart(
        scatter_figure(trials, best, run["objective"]), width="stretch", key="optimize_scatter"
    )
    if run["importances"]:
        left.plotly_chart(
            importance_figure(run["importances"]), width="stretch", key="optimize_importances"
        )
    else:
        left.caption("Parameter importances come when the search ends (given enough trials).")


def apply_panel(cfg: Settings, run: pd.Series) -> None:
    """Write the chosen parameters as a NEW config file; the running config stays as it is."""
    best = run["best_params"] or {}
    if run["status"] not in FINISHED or not run["summary"]:
        return
    st.subheader("Apply as a new config file")
    if not best:
        st.caption("Nothing to apply: the defaults were the best trial.")
        return
    if run["config_fingerprint"] and run["config_fingerprint"] != strategy_fingerprint(cfg):
        st.warning(
            "This search ran on another config than the dashboard's: the file is the "
            "dashboard's config with the chosen parameters over it."
        )
    if not recommends_chosen(run["summary"], best):
        st.caption("The search advises keeping the defaults: try a file of its choice on paper.")
    default = volt_home() / "configs" / f"optimized-run-{int(run['id'])}.toml"
    path = st.text_input(
        "New config file (never an existing one)", value=str(default), key="optimize_config_path"
    )
    if not st.button("Write the new config file", key="optimize_apply"):
        return
    summary = run["summary"]
    held = (run["spans"] or {}).get("held_out") or ["?", "?"]
    header = (
        f"Written by the dashboard's Optimize view (run #{int(run['id'])}, study "
        f"{run['study']}, trial #{summary.get('best_number')}).\n"
        f"Held out {held[0][:16]} .. {held[1][:16]}: {summary.get('advice', '')}"
    )
    if not inside(Path(path.strip()), [volt_home()]):  # a page open to the network
        st.error(f"Nothing written: the new config file must lie under {volt_home()}.")
        return
    try:
        written = write_config(
            path.strip(), os.environ.get("VOLT_CONFIG") or None,
            changed_sections(cfg, best), header,
        )  # fmt: skip
    except (ConfigError, SearchSpaceError, ValueError) as exc:
        st.error(f"Nothing written: {exc}")
        return
    st.success(
        f"Wrote `{written}`. The running engine is untouched. To use it, check it with "
        f"`python -m engine check --config {written}`, then start VOLT with "
        f"`VOLT_CONFIG={written} ./start.sh` (or `--config {written}`)."
    )


def _first_upper(text: str) -> str:
    return text[:1].upper() + text[1:]  # "Deflated Sharpe ratio", not "Deflated sharpe ratio"


def _pct(value) -> str:
    return "n/a" if value is None else f"{value:+.2f}%"


def _num(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"
