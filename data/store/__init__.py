"""The store: SQLAlchemy models, the session factory, and the records both sides write."""
