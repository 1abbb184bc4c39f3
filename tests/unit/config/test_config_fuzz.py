"""Configs that used to pass `check` and then could not work: each is refused at load with
one line naming the field (and, for a number, its allowed range). A few go through the real
`python -m engine check`, the rest through the loader."""

import pytest
from pydantic import BaseModel

from config import ConfigError, Settings, load_config
from config.loading import allowed_range
from config.market import PAIR_MAX_LENGTH
from data.store.models import Base
from tests.support.runs import run_engine

LONG_PAIR = "A" * 30 + "/USDT"

# (through, config file bytes, the field the line names, what it says of it)
CASES = [
    (
        "cli",
        b"[broker]\nstarting_capital = inf\n",
        "broker.starting_capital",
        "Input should be a finite number (got inf); allowed range is above 0 to 1_000_000_000_000",
    ),
    (
        "loader",
        b"[broker]\nstarting_capital = nan\n",
        "broker.starting_capital",
        "Input should be a finite number",
    ),
    (
        "loader",
        b"[broker]\nstarting_capital = -5.0\n",
        "broker.starting_capital",
        "Input should be greater than 0 (got -5.0); allowed range is above 0",
    ),
    (
        "loader",
        b"[broker]\nstarting_capital = 1e300\n",
        "broker.starting_capital",
        "Input should be less than or equal to",
    ),
    (
        "cli",
        b"[risk]\nmin_order_value = inf\n",
        "risk.min_order_value",
        "Input should be a finite number (got inf); allowed range is 0 to 1_000_000_000",
    ),
    (
        "loader",
        b"[risk]\nmin_order_value = 20000.0\n",
        "risk.min_order_value",
        "20000 USDT is not below broker.starting_capital 10000: no order could be placed",
    ),
    (
        "cli",
        b"[risk]\nmax_open_positions = true\n",
        "risk.max_open_positions",
        "must be a number, not true; allowed range is 1 to 100, a whole number",
    ),
    (
        "loader",
        b"[risk]\nmax_open_positions = 1.5\n",
        "risk.max_open_positions",
        "Input should be a valid integer",
    ),
    (
        "loader",
        b"[risk]\nrisk_per_trade = -0.01\n",
        "risk.risk_per_trade",
        "Input should be greater than 0 (got -0.01); allowed range is above 0 to 0.1",
    ),
    (
        "loader",
        b"[clock]\nspeed = inf\n",
        "clock.speed",
        "Input should be a finite number (got inf); allowed range is above 0 to 1_000_000",
    ),
    (
        "loader",
        b"[engine]\ntick_seconds = nan\n",
        "engine.tick_seconds",
        "Input should be a finite number",
    ),
    (
        "loader",
        b"[engine]\nmetrics_retention_hours = 1e9\n",
        "engine.metrics_retention_hours",
        "Input should be less than or equal to 8760",
    ),
    (
        "loader",
        b"[agents.weights]\nllm = inf\n",
        "agents.weights.llm",
        "Input should be a finite number",
    ),
    (
        "loader",
        b"[laptop]\nmax_cpu_temp_c = nan\n",
        "laptop.max_cpu_temp_c",
        "Input should be a finite number",
    ),
    (
        "loader",
        b"[feed]\nseed = -1\n",
        "feed.seed",
        "greater than or equal to 0 (got -1); allowed range is 0 to 4_294_967_295",
    ),
    (
        "loader",
        b"[exchange]\nmax_order_value = inf\n",
        "exchange.max_order_value",
        "Input should be a finite number",
    ),
    (
        "loader",
        b"[alerts]\ndaily_summary_hour = true\n",
        "alerts.daily_summary_hour",
        "must be a number, not true; allowed range is 0 to 23",
    ),
    ("loader", b"[optimize]\ntrials = false\n", "optimize.trials", "must be a number, not false"),
    (
        "cli",
        b"[market]\ntimeframe = '7m'\n",
        "market.timeframe",
        "timeframe '7m' is not one the exchange offers; use one of "
        "1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, 1d, 3d",
    ),
    (
        "loader",
        b"[market]\ntimeframe = '99999999d'\n",
        "market.timeframe",
        "timeframe '99999999d' is not one the exchange offers",
    ),
    (
        "loader",
        f"[market]\npairs = ['{LONG_PAIR}']\n".encode(),
        "market.pairs",
        f"pair '{LONG_PAIR[:32]}'... is 35 characters long; the store holds at most 32",
    ),
    (
        "loader",
        b"[market]\npairs = ['btc/usdt']\n",
        "market.pairs",
        "pair 'btc/usdt' must look like BASE/QUOTE in capitals",
    ),
    (
        "loader",
        b"[market]\npairs = ['BTC / USDT']\n",
        "market.pairs",
        "must look like BASE/QUOTE in capitals",
    ),
    # Not a field: the line names the file and where the byte is.
    (
        "cli",
        b"# caf\xe9 au lait\n[risk]\n",
        "",
        "not UTF-8 text: byte 0xe9 at position 5 (line 1, column 6)",
    ),
]


def refusal(tmp_path, through: str, content: bytes) -> str:
    path = tmp_path / "volt.toml"
    path.write_bytes(content)
    if through == "cli":
        result = run_engine("check", "--config", str(path))
        assert result.returncode == 2, result.stdout
        assert result.stdout == ""
        return result.stderr.removeprefix("volt: configuration error: ").removesuffix("\n")
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    return str(refused.value)


@pytest.mark.parametrize(
    ("through", "content", "field", "expected"),
    CASES,
    ids=[f"{case[0]}-{case[2] or 'encoding'}-{i}" for i, case in enumerate(CASES)],
)
def test_a_config_that_cannot_work_is_refused_in_one_line(
    tmp_path, volt_home, through, content, field, expected
):
    message = refusal(tmp_path, through, content)

    assert "\n" not in message
    assert message.startswith(f"{tmp_path / 'volt.toml'}: {field}")
    assert expected in message


def test_a_pair_is_trimmed_of_surrounding_spaces(tmp_path):
    path = tmp_path / "volt.toml"
    path.write_text("[market]\npairs = [' BTC/USDT', 'ETH/USDT ']\n")
    assert load_config(path).market.pairs == ["BTC/USDT", "ETH/USDT"]


def test_a_pair_that_fits_the_column_is_taken(tmp_path):
    pair = "A" * (PAIR_MAX_LENGTH - len("/USDT")) + "/USDT"
    assert Settings.model_validate({"market": {"pairs": [pair]}}).market.pairs == [pair]


def test_the_pair_limit_is_the_stores_pair_column():
    lengths = {
        column.type.length
        for table in Base.metadata.tables.values()
        for column in table.columns
        if column.name == "pair"
    }
    assert lengths == {PAIR_MAX_LENGTH}


def numeric_settings(model: type[BaseModel] = Settings, loc: tuple = ()) -> list[tuple]:
    found = []
    for name, field in model.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            found += numeric_settings(field.annotation, (*loc, name))
        elif field.annotation in (int, float):
            found.append((*loc, name))
    return found


def test_every_numeric_setting_states_its_allowed_range():
    # A new number without both bounds would let `= 1e300` through: it shows up here.
    assert len(numeric_settings()) >= 70
    unbounded = [".".join(loc) for loc in numeric_settings() if not allowed_range(loc)]
    assert unbounded == []
