"""Database layer: models, engine/session, unit of work, migrations."""
