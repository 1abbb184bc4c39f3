"""The store: SQLAlchemy models, the session factory, and the records both sides write and
the engine reads back."""
