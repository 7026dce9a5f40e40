"""The curated table: its columns from the job's record type, its partitions, the Glue catalog and the
quarantine table."""
