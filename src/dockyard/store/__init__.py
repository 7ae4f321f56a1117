"""The metadata store: SQLAlchemy tables, the database wrapper and the migration tree."""
