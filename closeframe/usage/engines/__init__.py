"""The engines that count usage: in-memory frames (numpy), DuckDB (frames, Parquet datasets, the store), Spark SQL.

Each engine's ``counts(...)`` returns :data:`closeframe.usage.definition.COUNT_COLUMNS` per (organization, outcome)
and the organization names it saw; :func:`closeframe.usage.definition.finish_usage` makes the table from them.
"""
