"""The curated table and the quarantine table: `landfall.table`."""
