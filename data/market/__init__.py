"""Market maths: indicators and the rows they are computed on (no store, no I/O)."""
