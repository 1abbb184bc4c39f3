"""The trading loop: feed → indicators → agents → consensus → risk → broker → database."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from agents import LiveAgent, MarketBrief, RegimeLimits, RuleAgent, weigh_votes
from agents.auditor import AuditLimits, audit_fill
from agents.base import vote_from_frame
from agents.learning import adapt_weights
from agents.regime import RegimeAgent, classify, regime_name
from config import timeframe_seconds
from config.settings import Learning
from data.db import as_utc, transaction
from data.indicators import add_indicators
from data.models import AgentWeight, Candle, Decision, JournalEntry, Position, VoteRow
from data.queries import recent_calls
from data.scorecard import agent_records
from data.types import Action, Consensus
from engine import book, journal
from engine.broker import Broker
from engine.clock import Clock
from engine.errors import (
    FeedUnavailable,
    OrderNotPlaced,
    OrderStatusUnknown,
    PermanentError,
    TemporaryError,
)
from engine.execution import place_order, record_fill
from engine.feed import Feed
from engine.retry import with_retries
from engine.risk_records import ExitRetries, record_rejection, risk_context, sync_locks
from risk import ApprovedOrder, OrderIntent, RiskGate, RiskRejection
from risk.stops import stop_exit, stop_reason, trail

log = logging.getLogger("volt.trader")
STALE_AFTER_CANDLES = 2  # no new candle for this many timeframes pauses entries
MAX_CATCH_UP_CANDLES = 20_000  # after an outage, check stops over at most this many
FEED_ATTEMPTS = 4
INDICATOR_SNAPSHOT = ("rsi", "macd", "macd_signal", "bb_lower", "bb_middle", "bb_upper", "atr")
MAX_CLIENT_ORDER_ID = 36


@dataclass
class TickReport:
    decisions: int = 0
    entries: int = 0
    exits: int = 0
    new_candles: bool = False
    skipped: dict[str, str] = field(default_factory=dict)  # pair -> why (expected faults)
    unexpected: list[str] = field(default_factory=list)  # pairs that hit a bug

    @property
    def succeeded(self) -> bool:
        """A tick that hit an unexpected error is not a success: the watchdog must see it."""
        return not self.unexpected


def client_order_id(pair: str, candle_ts: datetime, tag: str) -> str:
    """Derived from the decision, so a retried or re-run decision can never double an order.
    Exchanges take at most 36 of [A-Za-z0-9_-] (Binance): a longer id keeps its prefix and
    pair and ends in a hash of the rest, still the same for the same decision."""
    market = re.sub(r"[^A-Za-z0-9]", "", pair)
    rest = re.sub(r"[^A-Za-z0-9_-]", "", f"{int(candle_ts.timestamp())}-{tag}")
    full = f"volt-{market}-{rest}"
    if len(full) <= MAX_CLIENT_ORDER_ID:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()
    head = f"volt-{market[:12]}-"
    return head + digest[: MAX_CLIENT_ORDER_ID - len(head)]


def signal_intent(decision: Decision, side: str, atr: float = math.nan) -> OrderIntent:
    return OrderIntent(
        decision.pair,
        side,
        decision.price,
        client_order_id(decision.pair, as_utc(decision.candle_ts), side[0]),
        "signal",
        atr=atr,
        decision_id=decision.id,
        regime=decision.regime or "normal",
    )


class Trader:
    def __init__(
        self,
        *,
        factory: sessionmaker[Session],
        clock: Clock,
        feed: Feed,
        broker: Broker,
        gate: RiskGate,
        agents: list[RuleAgent],
        weights: dict[str, float],
        thresholds: dict[str, float],
        regime_limits: RegimeLimits,
        pairs: list[str],
        timeframe: str,
        history_candles: int,
        live_agents: list[LiveAgent] | None = None,
        learning: Learning | None = None,
        audit_limits: AuditLimits | None = None,
        breakeven_accuracy: float = 0.5,
    ) -> None:
        self.factory = factory
        self.clock = clock
        self.feed = feed
        self.broker = broker
        self.gate = gate
        self.agents = agents
        self.live_agents = live_agents or []
        self.base_weights = dict(weights)  # as configured; learning adapts from these
        self.weights = dict(weights)
        self.learning = learning or Learning()
        # The win rate at which the stop and take-profit distances break even.
        self.breakeven_accuracy = breakeven_accuracy
        self.audit_limits = audit_limits or AuditLimits(max_slippage=0.002, size_tolerance=0.001)
        self.thresholds = thresholds
        self.regime_limits = regime_limits
        self.pairs = pairs
        self.timeframe = timeframe
        self.candle_length = timedelta(seconds=timeframe_seconds(timeframe))
        self.history_candles = history_candles
        self.exchange = None  # the ccxt client behind feed and broker, if any
        self.entries_paused = False
        self.entry_blocks: list[str] = []  # laptop guards and the like, refreshed each tick
        self.stale_pairs: set[str] = set()
        self.marks: dict[str, float] = {}
        self._last_candle: dict[str, datetime] = {}
        self._pair_errors: dict[str, str] = {}
        self._feed_down = False
        self.exit_retries = ExitRetries(factory, self.candle_length)
        self._decided_pairs: set[str] = set()  # pairs decided by this process
        with factory() as session:
            for pair in pairs:
                last = session.scalar(
                    select(func.max(Decision.candle_ts)).where(Decision.pair == pair)
                )
                if last is not None:
                    self._last_candle[pair] = as_utc(last)
        self._load_weights()

    # --- the loop body -------------------------------------------------------------------
    def tick(self) -> TickReport:
        report = TickReport()
        now = self.clock.now()
        self._feed_down = False
        for pair in self.pairs:
            try:
                self._tick_pair(pair, now, report)
                self._pair_errors.pop(pair, None)
            except OrderNotPlaced as exc:
                report.skipped[pair] = str(exc)
                self._note_pair_error(pair, exc)
                self._note_order_not_placed(exc, now)
            except FeedUnavailable as exc:
                # Once the feed failed after full retries, the other pairs try only once
                # this tick: backoff piled up across pairs would look like a hang.
                self._feed_down = True
                report.skipped[pair] = str(exc)
                self._note_pair_error(pair, exc)
            except (TemporaryError, PermanentError) as exc:
                report.skipped[pair] = str(exc)
                self._note_pair_error(pair, exc)
            except Exception:
                log.exception("%s: unexpected error in this tick", pair)
                report.unexpected.append(pair)
            self._watch_staleness(pair, now)
        if report.new_candles:
            with transaction(self.factory) as session:
                book.snapshot_equity(session, self.broker, self.marks, now)
            self._follow_journal(now)
        self._review_protections(now)
        return report

    def _review_protections(self, now: datetime) -> None:
        """Store which protections block entries now, and lift the ones that cleared, so
        locks outlive a restart and the dashboard shows each one. The gate itself judges
        afresh at every entry; a failure here never opens anything."""
        try:
            with transaction(self.factory) as session:
                view = book.portfolio_view(session, self.broker, self.marks)
                context = risk_context(session, view, self.marks, now)
                blocks = {}
                for pair in self.pairs:
                    for block in self.gate.blocks(replace(context, pair=pair)):
                        blocks.setdefault((block.protection, block.pair), block)
                sync_locks(session, blocks.values(), now)
        except Exception:
            log.exception("could not store the state of the risk protections")

    def _note_order_not_placed(self, exc: OrderNotPlaced, now: datetime) -> None:
        # Its own transaction: the decision's was rolled back, so the candle is decided
        # again next tick; these rows are what lets the rejection breaker stop that loop.
        try:
            with transaction(self.factory) as session:
                record_rejection(session, now, exc.pair, "buy", "broker", f"not placed: {exc}")
        except Exception:
            log.exception("could not record the order %s the broker never took", exc.pair)

    def _note_pair_error(self, pair: str, exc: Exception) -> None:
        # One event when a fault starts or changes, not one every tick it lasts.
        message = f"{pair} skipped this tick: {type(exc).__name__}: {exc}"
        if self._pair_errors.get(pair) != str(exc):
            log.warning(message, extra={"kind": "feed_error"})
        else:
            log.info(message)
        self._pair_errors[pair] = str(exc)

    def _tick_pair(self, pair: str, now: datetime, report: TickReport) -> None:
        last_seen = self._last_candle.get(pair)
        limit = self.history_candles
        if last_seen is not None:
            # After an outage, fetch every candle since the last one seen, so no stop is missed.
            missed = math.ceil((now - last_seen) / self.candle_length) + 1
            limit = min(max(limit, missed), MAX_CATCH_UP_CANDLES)
        try:
            candles = with_retries(
                lambda: self.feed.candles(pair, now, limit),
                f"{pair} candles from {self.feed.name}",
                attempts=1 if self._feed_down else FEED_ATTEMPTS,
            )
        except TemporaryError as exc:
            raise FeedUnavailable(str(exc)) from exc
        if candles.empty:
            return
        self.marks[pair] = float(candles["close"].iloc[-1])
        fresh = candles if last_seen is None else candles[candles.index > last_seen]
        if fresh.empty:
            return
        report.new_candles = True
        self._store_candles(pair, fresh)
        # A refused exit waits for its retry; the candles stay unseen so its stop is met again.
        if waiting := self.exit_retries.deferred(pair, now):
            raise PermanentError(waiting)
        try:
            self._check_stops(pair, fresh, now, report)
            self._decide(pair, candles.tail(self.history_candles), now, report)
        except PermanentError as refusal:  # entries catch theirs: this is a refused exit
            self.exit_retries.refused(pair, now, str(refusal))
            raise
        self.exit_retries.succeeded(pair)
        self._last_candle[pair] = candles.index[-1].to_pydatetime()

    def _watch_staleness(self, pair: str, now: datetime) -> None:
        last = self._last_candle.get(pair)
        if last is None:
            return
        waited = now - (last + self.candle_length)
        stale = waited > STALE_AFTER_CANDLES * self.candle_length
        if stale and pair not in self.stale_pairs:
            self.stale_pairs.add(pair)
            log.warning(
                "no new %s candle for %.0f min: new entries paused for it; exits keep working",
                pair,
                waited.total_seconds() / 60,
                extra={"kind": "stale_data"},
            )
        elif not stale and pair in self.stale_pairs:
            self.stale_pairs.discard(pair)
            log.info(
                "%s candles are fresh again: entries resume", pair, extra={"kind": "stale_data"}
            )

    def _store_candles(self, pair: str, candles: pd.DataFrame) -> None:
        columns = {name: candles[name].tolist() for name in candles.columns}
        rows = [
            {"pair": pair, "timeframe": self.timeframe, "ts": ts}
            | {name: values[row] for name, values in columns.items()}
            for row, ts in enumerate(candles.index.to_pydatetime())
        ]
        with transaction(self.factory) as session:
            dialect = session.bind.dialect.name
            insert = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}.get(dialect)
            if insert is None:
                for row in rows:
                    session.merge(Candle(**row))
                return
            # One cached statement, many parameter sets (SQLAlchemy batches them itself).
            session.execute(insert(Candle).on_conflict_do_nothing(), rows)

    def _check_stops(
        self, pair: str, fresh: pd.DataFrame, now: datetime, report: TickReport
    ) -> None:
        with transaction(self.factory) as session:
            position = session.get(Position, pair)
            if position is None:
                return
            entered = as_utc(position.entry_ts)
            for ts, candle in fresh.iterrows():
                if ts + self.candle_length <= entered:
                    continue  # closed before the entry
                hit = stop_exit(
                    candle["open"],
                    candle["high"],
                    candle["low"],
                    position.stop_loss,
                    position.take_profit,
                )
                if hit is None:
                    if position.trail_distance:
                        position.stop_loss, position.peak_price = trail(
                            position.stop_loss,
                            position.peak_price or position.entry_price,
                            position.trail_distance,
                            float(candle["high"]),
                        )
                    continue
                price, reason = hit
                if reason == "stop_loss":
                    reason = stop_reason(
                        position.stop_loss,
                        position.entry_price,
                        position.peak_price,
                        position.trail_distance,
                    )
                intent = OrderIntent(
                    pair, "sell", float(price), client_order_id(pair, ts, reason[:2]), reason
                )
                self._exit(session, intent, now)
                report.exits += 1
                return

    def _decide(self, pair: str, candles: pd.DataFrame, now: datetime, report: TickReport) -> None:
        frame = add_indicators(candles)
        candle_ts = candles.index[-1].to_pydatetime()
        if pair not in self._decided_pairs:  # after that, _last_candle keeps candles new
            with self.factory() as session:
                if session.scalar(
                    select(Decision.id).where(
                        Decision.pair == pair, Decision.candle_ts == candle_ts
                    )
                ):
                    return  # decided before a restart; never act on a candle twice
        vote_frames = [agent.vote_frame(frame) for agent in self.agents]
        votes = [
            vote_from_frame(agent, rows, len(frame))
            for agent, rows in zip(self.agents, vote_frames, strict=True)
        ]
        # The regime sets how sure the team must be, whatever weight the regime agent has.
        regime = regime_name(self._regime_code(frame, vote_frames))
        regime = regime or "normal"
        if self.live_agents:
            brief = self._market_brief(pair, frame, regime)
            votes += [agent.vote(brief) for agent in self.live_agents]
        consensus = weigh_votes(votes, self.weights, self.thresholds[regime])
        price = float(candles["close"].iloc[-1])
        atr = float(frame["atr"].iloc[-1])
        with transaction(self.factory) as session:
            decision = self._record_decision(session, pair, candle_ts, price, consensus, now)
            decision.regime = regime
            report.decisions += 1
            decision.outcome = self._act(session, decision, consensus, atr, now, report)
            if decision.executed:
                journal.open_entry(session, decision)
        self._decided_pairs.add(pair)

    def _regime_code(self, frame: pd.DataFrame, vote_frames: list[pd.DataFrame]) -> float:
        """The regime agent's reading when it reads as the trader does (not classified twice)."""
        for agent, rows in zip(self.agents, vote_frames, strict=True):
            if (
                isinstance(agent, RegimeAgent)
                and agent.window is None
                and agent.limits == self.regime_limits
            ):
                return rows["regime_code"].iloc[-1]
        return classify(frame, self.regime_limits)["regime_code"].iloc[-1]

    def _record_decision(
        self,
        session: Session,
        pair: str,
        candle_ts: datetime,
        price: float,
        consensus: Consensus,
        now: datetime,
    ) -> Decision:
        decision = Decision(
            ts=now,
            pair=pair,
            candle_ts=candle_ts,
            price=price,
            action=consensus.action.value,
            score=consensus.score,
            threshold=consensus.threshold,
        )
        session.add(decision)
        session.flush()
        for vote in consensus.votes:
            session.add(
                VoteRow(
                    decision_id=decision.id,
                    agent=vote.agent,
                    action=vote.action.value,
                    confidence=vote.confidence,
                    weight=consensus.weights.get(vote.agent, 0.0),
                    source=vote.source.value,
                    rationale=vote.rationale,
                    data=vote.data,
                )
            )
        return decision

    def _act(
        self,
        session: Session,
        decision: Decision,
        consensus: Consensus,
        atr: float,
        now: datetime,
        report: TickReport,
    ) -> str:
        pair = decision.pair
        holding = session.get(Position, pair) is not None
        if consensus.action == Action.HOLD:
            return "hold"
        if consensus.action == Action.SELL:
            if not holding:
                return "no position to sell"
            self._exit(session, signal_intent(decision, "sell"), now)
            decision.executed = True
            report.exits += 1
            return "sold: closed the position on the signal"
        if holding:
            return "already holding"
        if self.entries_paused:
            return "entries paused"
        if self.entry_blocks:
            return f"entries paused: {'; '.join(self.entry_blocks)}"
        if pair in self.stale_pairs:
            return "entries paused: stale market data"
        intent = signal_intent(decision, "buy", atr)
        view = book.portfolio_view(session, self.broker, self.marks)
        try:
            # The context is read in this transaction: a kill pressed before it stops the entry.
            context = risk_context(session, view, self.marks, now)
            approved = self.gate.approve(intent, view, context)
        except RiskRejection as rejection:
            log.info("risk rejected %s: %s", pair, rejection)
            record_rejection(session, now, pair, "buy", "risk", str(rejection), decision.id)
            return f"rejected by risk: {rejection}"
        try:
            fill = self._place(session, approved, now)
        except PermanentError as refusal:
            log.warning(
                "%s: the broker refused the entry: %s",
                pair,
                refusal,
                extra={"kind": "order_refused"},
            )
            record_rejection(session, now, pair, "buy", "broker", str(refusal), decision.id)
            return f"refused by the broker: {refusal}"
        except OrderStatusUnknown as unknown:
            report.skipped[pair] = str(unknown)  # the worker reconciles before the next entry
            return f"order status unknown — reconciliation will settle it ({unknown})"
        except TemporaryError as exc:
            raise OrderNotPlaced(pair, str(exc)) from exc
        order, fill_row = record_fill(session, fill, "signal", decision.id)
        book.record_entry(
            session,
            order,
            fill_row,
            approved.stop_loss,
            approved.take_profit,
            trail_distance=approved.trail_distance,
        )
        decision.executed = True
        report.entries += 1
        return f"bought {fill.amount:.6g} at {fill.price:.6g} (fee {fill.fee:.4f})"

    def _exit(self, session: Session, intent: OrderIntent, now: datetime):
        intent = book.exit_intent(session, intent)  # the rest of a partly sold position
        approved = self.gate.approve(intent, book.portfolio_view(session, self.broker, self.marks))
        fill = self._place(session, approved, now)
        # A duplicate here is a fill the broker kept from an attempt whose record was rolled
        # back: recording it now is exactly right (record_fill is idempotent).
        order, fill_row = record_fill(session, fill, intent.reason, intent.decision_id)
        dust = self.broker.dust(fill.pair, fill.price)
        return book.record_exit(session, order, fill_row, intent.reason, dust)

    def _place(self, session: Session, approved: ApprovedOrder, now: datetime):
        """Place an approved order; the auditor then checks the fill against the approval."""
        fill = place_order(self.broker, approved, now)
        violations = audit_fill(
            approved.side,
            approved.price,
            fill.sent_amount or approved.amount,  # the exchange's lot size is not a violation
            fill.price,
            fill.amount if fill.filled is None else fill.filled,  # before a fee in the coin
            self.audit_limits,
        )
        if violations:
            text = "; ".join(violations)
            log.warning(
                "auditor: %s %s %s: %s",
                approved.pair,
                approved.side,
                approved.client_order_id,
                text,
                extra={"kind": "audit"},
            )
            decision = session.get(Decision, approved.decision_id) if approved.decision_id else None
            if decision is not None:
                decision.audit = "; ".join(filter(None, [decision.audit, text]))
        return fill

    # --- the journal and the team's weights ---------------------------------------------
    def _follow_journal(self, now: datetime) -> None:
        """Never costs the tick: a journal or learning failure is logged and retried later."""
        try:
            self._follow_journal_once(now)
        except Exception:
            log.exception("could not follow the decision journal; trying again next candle")

    def _follow_journal_once(self, now: datetime) -> None:
        learning = self.learning
        with transaction(self.factory) as session:
            resolved = journal.follow_outcomes(
                session,
                now,
                self.marks,
                self.candle_length,
                timedelta(hours=learning.outcome_horizon_hours),
                learning.sell_horizon_candles,
            )
            for entry in resolved:
                log.info(
                    "journal: %s %s decision #%d resolved %s (P&L %+.2f)",
                    entry.pair,
                    entry.action,
                    entry.decision_id,
                    entry.outcome,
                    entry.pnl,
                    extra={"kind": "journal"},
                )
        if resolved and not learning.freeze:
            self._adapt_weights(now)

    def _adapt_weights(self, now: datetime) -> None:
        calls = recent_calls(
            self.factory.kw["bind"], sorted(self.base_weights), self.learning.window
        )
        records = agent_records(calls, self.learning.window)
        changes = adapt_weights(
            self.base_weights,
            self.weights,
            records,
            min_samples=self.learning.min_samples,
            floor=self.learning.floor,
            cap=self.learning.cap,
            breakeven=self.breakeven_accuracy,
        )
        if not changes:
            return
        with transaction(self.factory) as session:
            for change in changes:
                session.add(
                    AgentWeight(
                        ts=now,
                        agent=change.agent,
                        weight=change.weight,
                        previous=change.previous,
                        base=change.base,
                        accuracy=change.accuracy,
                        samples=change.samples,
                        reason=change.reason,
                    )
                )
        for change in changes:
            self.weights[change.agent] = change.weight
            log.info("weight of %s: %s", change.agent, change.reason, extra={"kind": "weights"})

    def _load_weights(self) -> None:
        """Learned weights survive restarts, unless the configured weight has changed since
        (the trader's edit wins) or learning is frozen."""
        if self.learning.freeze:
            return
        with self.factory() as session:
            for agent, configured in self.base_weights.items():
                latest = session.scalar(
                    select(AgentWeight)
                    .where(AgentWeight.agent == agent)
                    .order_by(AgentWeight.id.desc())
                    .limit(1)
                )
                if configured > 0 and latest is not None and latest.base == configured:
                    self.weights[agent] = latest.weight

    def _market_brief(self, pair: str, frame: pd.DataFrame, regime: str) -> MarketBrief:
        last = frame.iloc[-1]
        indicators = {
            name: float(last[name])
            for name in INDICATOR_SNAPSHOT
            if name in last.index and not math.isnan(float(last[name]))
        }
        price = float(last["close"])
        with self.factory() as session:
            position = session.get(Position, pair)
            held = None
            if position is not None:
                held = {
                    "entry_price": position.entry_price,
                    "amount": position.amount,
                    "stop_loss": position.stop_loss,
                    "take_profit": position.take_profit,
                    "unrealised_pct": (price / position.entry_price - 1) * 100,
                }
            recent = session.scalars(
                select(JournalEntry)
                .where(JournalEntry.outcome != journal.PENDING)
                .order_by(JournalEntry.id.desc())
                .limit(5)
            ).all()
            outcomes = [
                f"{e.pair} {e.action} -> {e.outcome} {e.pnl_pct or 0.0:+.1%}" for e in recent
            ]
        return MarketBrief(
            pair=pair,
            price=price,
            candle_time=frame.index[-1].to_pydatetime(),
            indicators=indicators,
            regime=regime,
            position=held,
            recent_outcomes=outcomes,
        )

    def llm_status(self) -> dict | None:
        """The LLM agent's health for the dashboard, or None when it is not on the team."""
        for agent in self.live_agents:
            if agent.name == "llm":
                return dataclasses.asdict(agent.status())
        return None

    # --- orders asked for from outside the loop -----------------------------------------
    def close_position(self, pair: str, reason: str, tag: str) -> str:
        """Close one position at the current price, through risk like any other order."""
        now = self.clock.now()
        price = self.current_price(pair, now)
        with transaction(self.factory) as session:
            if session.get(Position, pair) is None:
                return f"{pair}: no open position"
            candle_ts = self._last_candle.get(pair, now)
            intent = OrderIntent(pair, "sell", price, client_order_id(pair, candle_ts, tag), reason)
            trade = self._exit(session, intent, now)
            rest = session.get(Position, pair)
            rest = f"; {rest.amount:.6g} still open with its stop" if rest else ""
        # Its own transaction: a failed snapshot must not roll back a recorded close.
        with transaction(self.factory) as session:
            book.snapshot_equity(session, self.broker, self.marks, now)
        done = "sold only" if rest else "closed"
        return (
            f"{done} {pair} {trade.amount:.6g} at {trade.exit_price:.6g} "
            f"(P&L {trade.pnl:+.2f}){rest}"
        )

    def flatten(self, reason: str, tag: str) -> tuple[list[str], list[str]]:
        """Close every open position; returns (what was done, what failed and why)."""
        closed, failed = [], []
        with self.factory() as session:
            pairs = list(book.open_positions(session))
        now = self.clock.now()
        for pair in pairs:  # price everything first, so every snapshot values the whole book
            try:
                self.current_price(pair, now)
            except Exception as exc:
                log.warning("no price for %s before the flatten: %s", pair, exc)
        for pair in pairs:
            try:
                closed.append(self.close_position(pair, reason, f"{tag}-{pair.split('/')[0]}"))
            except Exception as exc:
                log.exception("could not close %s", pair)
                failed.append(f"{pair}: {exc}")
        try:
            closed.append(self.cancel_open_orders())
        except Exception as exc:  # an open order may still fill: that is a failure too
            log.exception("could not cancel the open orders")
            failed.append(f"open orders not cancelled: {type(exc).__name__}: {exc}")
        with self.factory() as session:
            left = sorted(book.open_positions(session))
        for pair in left:
            if not any(f.startswith(pair) for f in failed):
                failed.append(f"{pair}: still open after the flatten")
        return closed, failed

    def cancel_open_orders(self) -> str:
        cancelled = self.broker.cancel_open_orders(self.clock.now())
        return f"cancelled {cancelled} open orders"

    def current_price(self, pair: str, now: datetime) -> float:
        last_price = getattr(self.feed, "last_price", None)  # a live ticker, where there is one
        if last_price is not None:
            self.marks[pair] = with_retries(lambda: last_price(pair), f"{pair} price")
            return self.marks[pair]
        candles = with_retries(lambda: self.feed.candles(pair, now, 1), f"{pair} price")
        if candles.empty:
            raise TemporaryError(f"{pair}: the {self.feed.name} feed has no price yet")
        self.marks[pair] = float(candles["close"].iloc[-1])
        return self.marks[pair]
