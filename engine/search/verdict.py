"""The search's answer, judged only on the window it never saw: the chosen parameters'
held-out result against the configured defaults, buy-and-hold and the chance baseline, and
the deflated Sharpe ratio for the number of trials tried. A best trial that does not beat
the defaults out of sample is reported as such, with the advice to keep them."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import optuna
from optuna.trial import TrialState

from config import Settings
from config.search_space import OBJECTIVE_LABELS, apply_params
from data.stats.backtest_labels import stat_text
from engine.backtest.report import build_report, json_safe
from engine.backtest.runner import BacktestResult
from engine.search.objective import objective_value
from engine.search.overfitting import Overfitting, ReturnShape, judge
from engine.search.trials import WORST, TrialMarket

log = logging.getLogger(__name__)
TABLE_ROWS = 10


@dataclass
class HeldOut:
    """One config's result on the held-out window."""

    name: str
    result: BacktestResult
    objective: float
    p_value: float  # the chance baseline's; NaN without trades

    def figures(self) -> dict:
        s = self.result.stats
        return {
            "name": self.name,
            "objective": self.objective,
            "return_pct": s["return_pct"],
            "sharpe": json_safe(float(s["sharpe"])),
            "max_drawdown_pct": s["max_drawdown_pct"],
            "trades": s["trades"],
            "buy_and_hold_pct": s["buy_and_hold_pct"],
            "buy_and_hold_sharpe": json_safe(float(s["buy_and_hold_sharpe"])),
            "p_value": json_safe(float(self.p_value)),
        }


@dataclass
class Outcome:
    objective: str
    trials: int  # trials tried (finished and pruned): what the deflation counts
    best_number: int
    best_params: dict[str, float]
    chosen: HeldOut
    defaults: HeldOut
    overfitting: Overfitting
    beats_defaults: bool
    importances: dict[str, float] = field(default_factory=dict)
    starved: bool = False  # every trial scored worst: too few in-sample trades
    min_trades: int = 0

    @property
    def advice(self) -> str:
        measure = OBJECTIVE_LABELS[self.objective]
        if self.starved:
            return (
                f"no trial made the {self.min_trades} in-sample trades asked (--min-trades): "
                "nothing to choose from; keep the defaults"
            )
        if self.chosen.result.stats is self.defaults.result.stats or not self.best_params:
            return "the defaults were the best trial: keep them"
        if not self.chosen.result.stats["trades"]:
            return (
                "the best trial made no trade on the held-out window: nothing shows it "
                "works; keep the defaults"
            )
        if not self.beats_defaults:
            return (
                f"the best trial does NOT beat the configured defaults' {measure} on the "
                "held-out window: keep the defaults"
            )
        if self.overfitting.overfit:
            return (
                f"the best trial beats the defaults' {measure} on the held-out window, but the "
                "deflated Sharpe ratio says its in-sample edge is within the luck of "
                f"{self.trials} trials: treat it with suspicion, keep the defaults"
            )
        return f"the best trial beats the configured defaults' {measure} on the held-out window"

    @property
    def verdict(self) -> str:
        """The advice, with the trades behind both held-out figures."""
        chosen, defaults = self.chosen.result.stats["trades"], self.defaults.result.stats["trades"]
        if not self.best_params:
            return f"{self.advice} ({defaults} held-out trades)"
        return f"{self.advice} (held-out trades: chosen {chosen}, defaults {defaults})"

    def summary(self) -> dict:
        return {
            "objective": self.objective,
            "trials": self.trials,
            "best_number": self.best_number,
            "chosen": self.chosen.figures(),
            "defaults": self.defaults.figures(),
            "overfitting": self.overfitting.to_dict(),
            "beats_defaults": self.beats_defaults,
            "advice": self.verdict,
        }


def judge_study(study: optuna.Study, bench: TrialMarket, draws: int, seed: int) -> Outcome:
    complete = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if "shape" in t.user_attrs
    ]
    if not complete:
        raise ValueError("no trial finished: nothing to judge (run more trials)")
    best = max(complete, key=lambda t: (t.value, -t.number))
    chosen_settings = apply_params(bench.settings, best.params)
    chosen = _held_out("chosen", bench, chosen_settings, draws, seed)
    defaults = _held_out("defaults", bench, bench.settings, draws, seed)
    sharpes = [t.user_attrs["shape"]["sharpe"] for t in complete]
    tried = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
    overfitting = judge(ReturnShape(**best.user_attrs["shape"]), sharpes, tried)
    starved = best.value <= WORST
    same = chosen_settings == bench.settings or starved  # nothing chosen: the defaults stand
    return Outcome(
        bench.objective,
        tried,
        best.number,
        {} if same else dict(best.params),
        defaults if same else chosen,
        defaults,
        overfitting,
        not same and chosen.result.stats["trades"] > 0 and chosen.objective > defaults.objective,
        importances(study),
        starved,
        bench.min_trades,
    )


def _held_out(name: str, bench: TrialMarket, settings: Settings, draws: int, seed: int):
    result = bench.held_out(settings)
    report = build_report(result, draws, seed)
    value = objective_value(bench.objective, result.stats)
    return HeldOut(name, result, value, float(report.stats["chance_p_value"]))


def importances(study: optuna.Study) -> dict[str, float]:
    """Optuna's parameter importances; empty while too few trials differ to tell."""
    try:
        found = optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError):
        log.info("parameter importances: too few trials to tell", exc_info=True)
        return {}
    return {name: round(float(value), 4) for name, value in found.items()}


def print_outcome(outcome: Outcome, study: optuna.Study, held_span: tuple[str, str]) -> None:
    label = OBJECTIVE_LABELS[outcome.objective]
    rows = sorted(
        (
            t
            for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if "held_out" in t.user_attrs
        ),
        key=lambda t: -t.value,
    )[:TABLE_ROWS]
    print(f"\nbest trials by in-sample {label} (held-out figures beside; never used to choose)")
    print("trial  in-sample  held-out  held-out return%  trades")
    for t in rows:
        held = t.user_attrs["held_out"]
        print(
            f"{t.number:>5}  {_num(t.value if t.value > WORST else None, '.3f', 'too few'):>9}  "
            f"{_num(held['objective']):>8}  "
            f"{_num(held['return_pct'], '+.2f'):>16}  {held['trades'] or 0:>6.0f}"
        )
    print(
        f"\nheld-out window {held_span[0][:16]} .. {held_span[1][:16]} UTC, never seen by the "
        "search:"
    )
    print(f"  {'':<26} {label[:14]:>14}  return%  sharpe  max dd%  trades  chance p")
    shown = (outcome.defaults,)
    if outcome.chosen is not outcome.defaults:
        shown = (outcome.chosen, outcome.defaults)
    for held in shown:
        f = held.figures()
        name = f"trial #{outcome.best_number} (chosen)" if held.name == "chosen" else "defaults"
        print(
            f"  {name:<26} {f['objective']:>14.3f}  {f['return_pct']:+7.2f}  "
            f"{stat_text('sharpe', f['sharpe'] if f['sharpe'] is not None else math.nan):>6}  "
            f"{f['max_drawdown_pct']:7.2f}  {f['trades']:>6}  {_num(f['p_value'], '.3f'):>8}"
        )
    f = outcome.defaults.figures()
    print(f"  {'buy & hold':<26} {'':>14}  {f['buy_and_hold_pct']:+7.2f}")
    print(f"\n{outcome.overfitting.sentence()}")
    if outcome.importances:
        top = list(outcome.importances.items())[:5]
        print("importance: " + ", ".join(f"{name} {value:.2f}" for name, value in top))
    print(f"verdict: {outcome.verdict}")


def _num(value, spec: str = ".3f", missing: str = "n/a") -> str:
    return missing if value is None or value != value else format(value, spec)
