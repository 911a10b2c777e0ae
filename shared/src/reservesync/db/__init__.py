"""The database contract: migrations (Alembic, the one definition of the tables) and roles."""
