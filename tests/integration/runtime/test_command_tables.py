"""Every command the dashboard may send has one handler, in the process that claims it: a
kind claimed by nobody would sit pending for ever."""

from config import load_config
from data.store.commands import (
    SUPERVISOR_COMMANDS,
    WORKER_COMMANDS,
)
from engine.runtime.supervisor import Supervisor
from engine.runtime.worker import Worker


def test_the_worker_answers_exactly_its_commands(store, volt_home):
    worker = Worker(load_config(), store[1])
    assert set(worker.commands) == WORKER_COMMANDS


def test_the_supervisor_answers_its_commands_and_a_close_when_no_worker_runs(store, volt_home):
    supervisor = Supervisor(load_config(), store[1])
    assert set(supervisor.commands) == SUPERVISOR_COMMANDS | {"close_position"}
