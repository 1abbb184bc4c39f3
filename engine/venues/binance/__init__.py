"""Binance's own rules: what its client order ids may be, and which orders are VOLT's."""
