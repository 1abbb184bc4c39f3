"""One way to turn a query into a DataFrame, for every read the dashboard renders."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Engine


def read_frame(engine: Engine, statement, columns: list[str] | None = None) -> pd.DataFrame:
    """The rows of `statement`, times (`ts`, `*_ts`, `*_at`) as UTC; an empty result still
    has `columns`, so a page works on an empty database."""
    with engine.connect() as conn:
        result = conn.execute(statement)
        # Plain tuples: pandas probing each Row's attributes costs seconds on 100k rows.
        rows = [tuple(row) for row in result.fetchall()]
        frame = pd.DataFrame(rows, columns=list(result.keys()))
    if frame.empty and columns:
        frame = pd.DataFrame(columns=columns)
    for column in frame.columns:
        if column == "ts" or column.endswith("_ts") or column.endswith("_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame
