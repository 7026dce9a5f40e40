"""The table stage: the curated Iceberg table's definition, and one atomic commit per run (pyiceberg,
without pyarrow: it runs in the reducer and the catalog function, never in the processor)."""
