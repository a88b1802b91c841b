"""Plumbing shared by the stores that keep tables (the usage ledger, the virtual keys): one
SQLite connection owned by one thread, and a PostgreSQL pool opened lazily on the running loop."""
