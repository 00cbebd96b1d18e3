"""Everything with I/O or orchestration: Graph reading, storage, alerts, the command line."""
