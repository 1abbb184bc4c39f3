"""Alerts: events a sleeping owner must hear about, sent through Apprise by the supervisor."""
