"""Data: the SQLite store, its migrations, queries and the bundled visit definitions."""
