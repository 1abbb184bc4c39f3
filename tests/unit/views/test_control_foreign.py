"""The Control page's Exchange panel shows what on the account is not VOLT's apart: the
owner's coins, cash and orders, and the dust VOLT's sales left and wrote off."""

from data.store.state import save_exchange_status
from tests.support.pages import open_page


def test_the_exchange_panel_shows_balances_and_orders_not_volts_apart(volt_home, store):
    save_exchange_status(
        store[1],
        exchange="binance testnet",
        mode="testnet",
        reachable=True,
        balances={"USDT": 12_000.0, "BNB": 2.0, "BTC": 0.00001},
        balances_from="binance testnet",
        foreign={
            "balances": {"USDT": 2_000.0, "BNB": 2.0},
            "orders": [
                {"id": "web_by_hand", "pair": "ETH/USDT", "side": "buy", "amount": 0.5,
                 "filled": 0.0, "price": 2_000.0}
            ],
            "dust": {"BTC": 0.00001},
        },
    )  # fmt: skip
    app = open_page("views/control.py")
    assert not app.exception
    frames = [frame.value for frame in app.dataframe]
    (held,) = [f for f in frames if "not VOLT's" in f.columns]
    rows = held.set_index("currency")
    assert rows.loc["USDT", "VOLT's"] == 10_000.0 and rows.loc["USDT", "not VOLT's"] == 2_000.0
    assert rows.loc["BNB", "VOLT's"] == 0.0 and rows.loc["BNB", "not VOLT's"] == 2.0
    assert rows.loc["BTC", "dust"] == 0.00001 and rows.loc["BTC", "VOLT's"] == 0.0
    assert any("web_by_hand" in f.to_string() for f in frames)
    assert any("Open orders not VOLT's" in m.value for m in app.markdown)
