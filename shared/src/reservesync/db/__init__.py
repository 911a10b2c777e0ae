"""The database contract: tables (SQLAlchemy Core), migrations (Alembic) and roles."""
