"""The store: SQLAlchemy models, the session factory, and the read/write helpers both sides use."""
