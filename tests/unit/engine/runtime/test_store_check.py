"""Before anything starts, the store is checked: VOLT_HOME takes a file, the database URL
parses and a connection opens within a short timeout. Each failure is one line naming it."""

from __future__ import annotations

import os
import socket
import subprocess

import pytest
from sqlalchemy import make_url
from sqlalchemy.exc import OperationalError

from data.store.db import make_engine
from engine.runtime.store_check import StoreUnavailable, check_database, check_home_writable
from tests.support.disk import fill, small_disk
from tests.support.runs import free_port, run_engine


def refused(**env: str) -> str:
    """What `python -m engine <command>` says when it will not start; its one line."""
    result = run_engine("check", timeout=60, **env)
    assert result.returncode == 2, result.stdout
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("volt: cannot start: ")
    return result.stderr


@pytest.fixture
def swallowing_port():
    """A loopback port whose kernel completes the handshake, and then nothing ever answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def test_a_garbage_database_url_is_named_in_one_line(volt_home):
    line = refused(VOLT_DB_URL="postgres//volt:secret@nowhere")
    assert "VOLT_DB_URL is not a database URL: e.g. postgresql+psycopg://" in line
    assert "secret" not in line


def test_an_unknown_database_driver_is_named(volt_home):
    line = refused(VOLT_DB_URL="oracle+nosuch://volt@127.0.0.1/volt")
    assert "no database driver 'oracle+nosuch' here" in line


def test_a_host_with_nothing_listening_is_named_without_the_password(volt_home):
    port = free_port()
    line = refused(VOLT_DB_URL=f"postgresql+psycopg://volt:secret@127.0.0.1:{port}/volt")
    assert (
        f"VOLT_DB_URL postgresql+psycopg://volt:***@127.0.0.1:{port}/volt does not answer" in line
    )
    assert "Connection refused" in line
    assert "secret" not in line


def test_a_run_is_refused_before_it_opens_an_unreachable_store(volt_home):
    url = f"postgresql+psycopg://volt@127.0.0.1:{free_port()}/volt"
    result = run_engine("run", "--for", "1", timeout=60, VOLT_DB_URL=url)
    assert result.returncode == 2
    assert result.stderr.startswith("volt: cannot start: VOLT_DB_URL ")
    assert result.stderr.count("\n") == 1


def test_a_host_that_swallows_packets_times_out_instead_of_hanging(swallowing_port):
    url = f"postgresql+psycopg://volt:secret@127.0.0.1:{swallowing_port}/volt"
    with pytest.raises(StoreUnavailable, match="does not answer: connection timeout expired"):
        check_database(url, timeout=2)


def test_check_gives_up_on_a_swallowing_host_by_itself(volt_home, swallowing_port):
    # The subprocess timeout is only a backstop: the check's own connect timeout ends it.
    line = refused(VOLT_DB_URL=f"postgresql+psycopg://volt@127.0.0.1:{swallowing_port}/volt")
    assert "connection timeout expired" in line


def test_a_file_that_is_not_a_database_is_named(tmp_path):
    junk = tmp_path / "volt.db"
    junk.write_bytes(b"this is not SQLite, it was truncated and overwritten" * 100)
    with pytest.raises(StoreUnavailable) as error:
        check_database(f"sqlite:///{junk}")
    assert str(error.value) == f"the database {junk} does not answer: file is not a database"


def test_a_wrong_password_is_named(volt_home):
    real = os.environ.get("VOLT_TEST_PG_URL")
    if not real:
        pytest.skip("no PostgreSQL test server: VOLT_TEST_PG_URL is unset (.ci/run sets it)")
    wrong = make_url(real).set(password="not-the-password")
    line = refused(VOLT_DB_URL=wrong.render_as_string(hide_password=False))
    assert "password authentication failed" in line
    assert "not-the-password" not in line


def test_a_reachable_store_is_what_check_reports(volt_home):
    assert check_database() == f"sqlite {volt_home / 'volt.db'}"


def test_a_home_without_write_permission_is_named(tmp_path, monkeypatch):
    if os.geteuid() == 0:
        pytest.skip("root writes through file permissions; the read-only mount test covers it")
    home = tmp_path / "home"
    home.mkdir(mode=0o500)
    monkeypatch.setenv("VOLT_HOME", str(home))
    with pytest.raises(StoreUnavailable, match="cannot be written: no permission to write there"):
        check_home_writable()


def test_a_read_only_home_is_named_in_one_line(tmp_path, volt_home):
    with small_disk(tmp_path / "disk") as disk:
        remounted = subprocess.run(["mount", "-o", "remount,ro", str(disk)], capture_output=True)
        if remounted.returncode != 0:
            pytest.skip(f"cannot remount read-only here: {remounted.stderr!r}")
        line = refused(VOLT_HOME=str(disk / "volt"))
    assert f"VOLT_HOME={disk / 'volt'} cannot be written: the filesystem is read-only" in line


def test_a_full_home_is_named_in_one_line(tmp_path, volt_home):
    with small_disk(tmp_path / "disk") as disk:
        fill(disk)
        line = refused(VOLT_HOME=str(disk))
    assert f"VOLT_HOME={disk} cannot be written: the disk is full" in line


def test_the_store_itself_gives_up_on_a_swallowing_host(swallowing_port):
    # What `status`, `stop` and a reconnecting worker open: no check before them.
    with pytest.raises(OperationalError, match="connection timeout expired"):
        make_engine(f"postgresql+psycopg://volt@127.0.0.1:{swallowing_port}/volt")


@pytest.mark.parametrize("command", ["status", "stop"])
def test_status_and_stop_name_an_unreachable_store_in_one_line(volt_home, command):
    url = f"postgresql+psycopg://volt:secret@127.0.0.1:{free_port()}/volt"
    result = run_engine(command, timeout=60, VOLT_DB_URL=url)
    assert result.returncode == 1
    assert result.stderr.startswith("volt: cannot read the store: VOLT_DB_URL ")
    assert "Connection refused" in result.stderr
    assert result.stderr.count("\n") == 1
