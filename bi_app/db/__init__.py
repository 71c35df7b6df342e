"""Database engine, sessions, models, migrations and demo data."""
