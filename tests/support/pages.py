"""The dashboard's pages in AppTest, opened the way a user reaches them."""

import base64

import numpy as np
from streamlit.testing.v1 import AppTest

from tests.support.runs import ROOT

PAGES = [
    "views/overview.py",
    "views/market.py",
    "views/trades.py",
    "views/performance.py",
    "views/agents.py",
    "views/system.py",
    "views/logs.py",
    "views/control.py",
    "views/kill_switch.py",
]


def open_page(page: str) -> AppTest:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.run()
    assert not app.exception, app.exception
    if page != PAGES[0]:
        app.switch_page(page).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def plotly_values(values) -> list:
    """A trace's values as a list: plotly sends numpy arrays as base64 typed arrays."""
    if isinstance(values, dict) and "bdata" in values:
        return np.frombuffer(base64.b64decode(values["bdata"]), values["dtype"]).tolist()
    return list(values)
