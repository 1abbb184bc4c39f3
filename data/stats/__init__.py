"""Statistics over plain records, named one way for engine and dashboard (no store, no I/O)."""
