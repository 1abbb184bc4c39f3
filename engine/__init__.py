"""The trading engine: clock, feed, broker, trading loop, worker and supervisor."""
