"""A supervisor in its own process, as `./start.sh` runs it, with a way to wait on its worker."""

import signal
import subprocess
import sys

from data.store.commands import get_command, submit_command
from data.store.state import read_state
from tests.support.runs import ROOT, volt_env, wait_for


class RunningSupervisor:
    def __init__(self, home, config, factory):
        self.factory = factory
        self.log = open(home / "supervisor.out", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "engine", "supervise", "--config", str(config)],
            cwd=ROOT,
            env=volt_env(VOLT_HOME=str(home)),
            stdout=self.log,
            stderr=self.log,
        )

    def state(self):
        return read_state(self.factory)

    def wait_for_ticking_worker(self, timeout=60.0, other_than: int | None = None) -> int:
        def ticking():
            state = self.state()
            if state.worker_pid == other_than:
                return None
            if state.worker_pid and state.heartbeat_at and state.status == "running":
                started, beat = state.worker_started_at, state.heartbeat_at
                return state.worker_pid if beat >= started else None
            return None

        return wait_for(ticking, timeout, "a worker to tick")

    def command(self, kind, timeout=30.0, **payload):
        command_id = submit_command(self.factory, kind, payload)

        def finished():
            command = get_command(self.factory, command_id)
            return command if command.status in ("done", "failed") else None

        return wait_for(finished, timeout, f"the {kind} command to finish")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self.log.close()
        return code
