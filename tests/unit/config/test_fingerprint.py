"""The strategy fingerprint names what a config decides and trades, nothing else: the go-live
gate finds a config's evidence by it, whatever its mode, keys or dashboard."""

import subprocess
import sys

import pytest

from config import load_config
from config.fingerprint import strategy_fingerprint
from tests.support.runs import ROOT


def fingerprint_of(tmp_path, text: str, name: str = "volt.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return strategy_fingerprint(load_config(path))


def test_a_fingerprint_is_sixteen_hex_digits_and_the_same_in_another_process(tmp_path):
    mine = fingerprint_of(tmp_path, "")
    code = (
        "from config import load_config; from config.fingerprint import strategy_fingerprint; "
        f"print(strategy_fingerprint(load_config({str(tmp_path / 'volt.toml')!r})))"
    )
    theirs = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert len(mine) == 16 and int(mine, 16) >= 0
    assert theirs == mine


@pytest.mark.parametrize(
    "change",
    [
        "[risk]\nrisk_per_trade = 0.02\n",
        "[risk]\nstop_atr_multiple = 2.5\n",
        "[risk.protections]\nlosing_streak = 4\n",
        "[consensus.thresholds]\nnormal = 0.6\nhigh_volatility = 0.7\ncrash = 0.8\n",
        "[agents.weights]\ntechnical = 1.0\nregime = 0.0\nsentiment = 0.5\nllm = 0.0\n",
        "[agents.regime]\ncrash_window = 24\n",
        "[indicators]\nrsi_period = 21\n",
        "[broker]\nfee_rate = 0.002\n",
        "[broker]\nfill_at = 'close'\n",
        "[market]\ntimeframe = '1h'\n",
        "[market]\npairs = ['BTC/USDT']\n",
    ],
)
def test_a_setting_that_changes_decisions_or_trades_changes_the_fingerprint(tmp_path, change):
    assert fingerprint_of(tmp_path, change) != fingerprint_of(tmp_path, "", "plain.toml")


@pytest.mark.parametrize(
    "change",
    [
        "mode = 'testnet'\n[feed]\nkind = 'ccxt'\n[broker]\nkind = 'ccxt'\n",
        "[dashboard]\nrefresh_seconds = 30.0\n",
        "[engine]\ntick_seconds = 5.0\n",
        "[broker]\nstarting_capital = 500.0\n",
        "[clock]\nspeed = 60.0\n",
        "[agents.llm]\nhost = 'http://127.0.0.1:9999'\n",
        "[agents.learning]\nfreeze = true\n",
        "[exchange]\nmax_order_value = 50.0\n",
    ],
)
def test_where_and_how_it_runs_leaves_the_fingerprint_alone(tmp_path, change):
    assert fingerprint_of(tmp_path, change) == fingerprint_of(tmp_path, "", "plain.toml")
