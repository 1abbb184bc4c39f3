"""Processes: the supervisor, the worker, the watchdog, the kill switch, commands and the CLI."""
