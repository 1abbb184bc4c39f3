"""Which rows become which alert, and what the alert says."""

from datetime import date

from engine.alerts.messages import (
    DaySummary,
    EventRow,
    LockRow,
    TradeRow,
    daily_summary,
    from_event,
    from_protection,
    from_stop_loss,
    halted,
)


def event(kind, message, level="ERROR", source="supervisor", traceback=""):
    return EventRow(1, level, source, kind, message, traceback)


def test_a_crash_loop_halt_is_a_crash_loop_alert_with_the_last_error():
    trace = "Traceback (most recent call last):\n  File x\nsqlite3.OperationalError: locked\n"
    alert = from_event(event("halted", "crash loop: 6 restarts within 10 minutes", traceback=trace))
    assert alert.kind == "crash_loop"
    assert alert.title.startswith("VOLT crash loop")
    assert "crash loop: 6 restarts" in alert.body and "OperationalError: locked" in alert.body


def test_a_crash_loop_alert_carries_the_last_worker_error():
    loop = event("halted", "crash loop: 2 restarts within 10 minutes; last: exited with code 1")
    error = event("log", "worker could not start", source="worker", traceback="x\nOSError: disk")
    alert = from_event(loop, last_error=error)
    assert "Last error: worker could not start\nx\nOSError: disk" in alert.body


def test_the_halted_reminder_at_start_is_not_an_alert():
    assert (
        from_event(event("halted", "engine is halted (kill switch (command #3))", "WARNING"))
        is None
    )


def test_a_dead_or_hung_worker_is_a_restart_alert():
    died = from_event(event("worker_died", "worker 12 killed by signal SIGKILL; restarting"))
    hung = from_event(event("hang", "worker 13 missed 5 heartbeats; restarting"))
    assert died.kind == hung.kind == "worker_restarted"
    assert "SIGKILL" in died.body and "hung" in hung.headline


def test_the_kill_switch_result_says_whether_everything_closed():
    done = from_event(event("command_kill", "kill #4 done: closed BTC/USDT", "INFO"))
    failed = from_event(event("command_kill", "kill #5 failed: NOT CLOSED: ETH/USDT"))
    assert done.kind == failed.kind == "kill_switch"
    assert "everything closed" in done.headline and "NOT" in failed.headline
    assert failed.severity == "failure"


def test_a_kill_attempts_warning_is_not_an_alert_but_a_completed_retry_is():
    attempt = event("kill_switch", "kill switch #4 attempt 1 of 3 left open", "WARNING")
    completed = event("kill_switch", "kill switch #4 completed by a retry: closed x", "WARNING")
    assert from_event(attempt) is None
    assert from_event(completed).kind == "kill_switch"


def test_a_refused_key_is_an_alert_and_the_alerts_own_events_never_are():
    assert from_event(event("key_refused", "binance refused the API key")).kind == "key_refused"
    assert from_event(event("key_refused", "x", source="alerts")) is None
    assert (
        from_event(event("alert_failed", "alert to json://*** failed", "WARNING", "alerts")) is None
    )


def test_a_stop_loss_exit_says_pair_prices_and_pnl():
    trade = TradeRow(7, "BTC/USDT", 0.01, 42000.0, 41000.0, -10.5, -0.025, "stop_loss")
    alert = from_stop_loss(trade, "USDT")
    assert alert.kind == "stop_loss"
    assert alert.title == "VOLT stop-loss: BTC/USDT -10.50 USDT (-2.50%)"
    assert "sold 0.01 at 41,000" in alert.body and "bought at 42,000" in alert.body


def test_a_trailing_stop_counts_as_a_stop_loss_and_a_take_profit_does_not():
    trail = TradeRow(8, "ETH/USDT", 1.0, 3000.0, 3100.0, 99.0, 0.033, "trailing_stop")
    target = TradeRow(9, "ETH/USDT", 1.0, 3000.0, 3300.0, 297.0, 0.099, "take_profit")
    assert "trailing stop" in from_stop_loss(trail, "USDT").body
    assert from_stop_loss(target, "USDT") is None


def test_a_protection_says_what_it_blocks_and_when_it_clears():
    lock = LockRow(3, "losing_streak", None, "3 losses in a row", "clears at 16:10 UTC")
    alert = from_protection(lock)
    assert alert.title == "VOLT protection: losing_streak blocks new entries"
    assert "3 losses in a row; clears at 16:10 UTC" in alert.body


def test_the_kill_switch_and_a_full_book_are_not_protection_alerts():
    for name in ("kill_switch", "max_exposure"):
        assert from_protection(LockRow(1, name, None, "r", "c")) is None


def test_a_halt_says_why():
    alert = halted("kill switch (command #2)")
    assert alert.title == "VOLT halted: kill switch (command #2)"
    assert "re-armed" in alert.body


def test_the_daily_summary_gives_equity_pnl_trades_positions_and_halts():
    day = DaySummary(
        date(2026, 3, 2), "UTC", 10_123.4, -48.2, -30.0, 5, 2, ["BTC/USDT"], True, "kill", "halted"
    )
    alert = daily_summary(day, "USDT")
    assert alert.title == "VOLT daily summary: 2026-03-02 P&L -48.20 USDT"
    for line in (
        "Equity: 10,123.40 USDT",
        "P&L today: -48.20 USDT (realised -30.00 USDT",
        "Trades closed: 5 (2 won)",
        "Open positions: 1 (BTC/USDT)",
        "Engine: HALTED (kill)",
    ):
        assert line in alert.body
