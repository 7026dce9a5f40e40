"""The processor's stage: one batch of objects read in chunks, framed, decoded, validated, folded into
partitions, written as curated Parquet; bad lines quarantined with their reasons."""
