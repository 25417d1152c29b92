"""The store: SQLAlchemy tables, the engine and alembic migrations, and set-based batch writes. Depends on no capability."""
