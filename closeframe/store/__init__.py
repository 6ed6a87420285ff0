"""The local store on disk: one DuckDB file of typed, id-keyed activities and outcome history, refreshed from the
event log, written in transactions under a cross-process lock (see ``docs/store.md``)."""
