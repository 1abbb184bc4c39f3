"""The decision path: fetch, decide, approve, execute, book, learn (one step per module)."""
