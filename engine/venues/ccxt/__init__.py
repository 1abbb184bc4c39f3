"""A real exchange through ccxt: one client per process, its feed and its broker."""
