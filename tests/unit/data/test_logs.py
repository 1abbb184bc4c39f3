"""The Logs page's reader: the tail of a log file, read from the end, filtered by level and
component, with secrets masked."""

from __future__ import annotations

import logging
import os

import pytest

from config import load_config
from data.logs import (
    CHUNK_BYTES,
    UnknownLogFile,
    known_secrets,
    log_files,
    logs_folder,
    tail_log,
)

HEAD = "2026-03-01 12:00:{s:02d},000 {level} 4242 {component}: {text}\n"


def line(text: str, level: str = "INFO", component: str = "volt.supervisor", s: int = 0) -> str:
    return HEAD.format(s=s % 60, level=level, component=component, text=text)


def write_log(volt_home, name: str, text: str) -> None:
    folder = volt_home / "logs"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text)


def texts(tail) -> list[str]:
    return [record.text.split(": ", 1)[1] for record in tail.records]


def test_a_big_log_is_read_from_its_end_only(volt_home):
    filler = line("x" * 200) * 100_000  # about 25 MB
    write_log(volt_home, "supervisor.log", filler + line("second last") + line("last"))

    tail = tail_log("supervisor.log", limit=2)

    assert texts(tail) == ["second last", "last"]
    assert tail.file_size > 20_000_000
    assert tail.scanned_bytes <= CHUNK_BYTES and not tail.reached_start


def test_the_last_lines_come_oldest_first_up_to_the_limit(volt_home):
    write_log(volt_home, "worker.log", "".join(line(f"tick {i}", s=i) for i in range(10)))

    tail = tail_log("worker.log", limit=3)

    assert texts(tail) == ["tick 7", "tick 8", "tick 9"]


def test_a_level_filter_keeps_that_level_and_worse_with_their_tracebacks(volt_home):
    write_log(
        volt_home,
        "worker.log",
        line("tick done")
        + line("feed slow", "WARNING")
        + line("tick failed", "ERROR")
        + "Traceback (most recent call last):\n  RuntimeError: feed timed out\n"
        + line("tick done"),
    )

    tail = tail_log("worker.log", min_level="WARNING")

    assert [r.level for r in tail.records] == ["WARNING", "ERROR"]
    assert tail.records[1].text.endswith("RuntimeError: feed timed out")


def test_lines_of_other_writers_show_only_without_a_level_filter(volt_home):
    write_log(volt_home, "volt.log", "VOLT: starting the supervisor\n" + line("started"))

    assert [r.level for r in tail_log("volt.log").records] == ["", "INFO"]
    assert [r.level for r in tail_log("volt.log", min_level="INFO").records] == ["INFO"]


def test_a_component_filter_keeps_those_loggers_and_lists_every_one_seen(volt_home):
    write_log(
        volt_home,
        "worker.log",
        line("entry blocked", "WARNING", "volt.risk")
        + line("tick", "INFO", "volt.worker")
        + line("stop hit", "INFO", "volt.risk"),
    )

    tail = tail_log("worker.log", components={"volt.risk"})

    assert texts(tail) == ["entry blocked", "stop hit"]
    assert tail.components == ["volt.risk", "volt.worker"]


def test_a_last_line_still_being_written_waits_for_its_newline(volt_home):
    write_log(volt_home, "worker.log", line("whole") + line("half writ").rstrip("\n"))
    assert texts(tail_log("worker.log")) == ["whole"]

    with open(logs_folder() / "worker.log", "a") as log:
        log.write("ten\n")
    assert texts(tail_log("worker.log")) == ["whole", "half written"]


def test_a_line_cut_by_a_chunk_boundary_is_read_whole(volt_home):
    long_text = "y" * (CHUNK_BYTES + 1000)
    write_log(volt_home, "worker.log", line("first") + line(long_text) + line("after"))

    tail = tail_log("worker.log")

    assert texts(tail) == ["first", long_text, "after"]
    assert tail.reached_start


def test_a_filter_stops_looking_back_after_max_bytes(volt_home):
    write_log(volt_home, "worker.log", line("old", "ERROR") + line("z" * 100) * 50_000)

    tail = tail_log("worker.log", min_level="ERROR", max_bytes=1_000_000)

    assert tail.records == [] and not tail.reached_start
    assert 1_000_000 - CHUNK_BYTES < tail.scanned_bytes <= 1_000_000


def test_secrets_in_a_line_are_masked(volt_home, monkeypatch):
    monkeypatch.setenv("VOLT_API_KEY", "key-abcdef123456")
    monkeypatch.setenv("VOLT_API_SECRET", "secret-987654zyx")
    monkeypatch.setenv("VOLT_ALERT_URLS", "tgram://123456:bot-token-xyz/987654")
    write_log(
        volt_home,
        "worker.log",
        line("signed with key-abcdef123456 and secret-987654zyx")
        + line("notifier tgram://123456:bot-token-xyz/987654 failed")
        + line("db postgresql://volt:hunter22@db.local/volt unreachable"),
    )

    shown = "\n".join(texts(tail_log("worker.log", secrets=known_secrets(load_config()))))

    for secret in ("key-abcdef123456", "secret-987654zyx", "bot-token-xyz", "hunter22"):
        assert secret not in shown
    assert "postgresql://***@db.local/volt" in shown


@pytest.mark.parametrize("name", ["../volt.db", "missing.log", "volt.db"])
def test_only_log_files_of_the_logs_folder_can_be_read(volt_home, name):
    write_log(volt_home, "worker.log", line("x"))
    (volt_home / "volt.db").write_text("not a log")

    with pytest.raises(UnknownLogFile, match="is not a log file"):
        tail_log(name)


def test_the_current_logs_are_listed_newest_first(volt_home):
    write_log(volt_home, "worker.log", line("x"))
    write_log(volt_home, "worker.log.1", line("rotated"))
    write_log(volt_home, "supervisor.log", line("y"))
    os.utime(logs_folder() / "worker.log", (1, 1))

    assert [f.name for f in log_files()] == ["supervisor.log", "worker.log"]


def test_the_engine_s_own_log_lines_are_read_with_level_and_component(volt_home, store):
    from engine.runtime.home import setup_logging

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        logger = setup_logging("worker", store[1], console=False)
        logger.warning("feed is slow")
        for handler in root.handlers:
            handler.flush()
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])

    [record] = tail_log("worker.log").records

    assert (record.level, record.component) == ("WARNING", "volt.worker")
    assert record.text.endswith("volt.worker: feed is slow")
