"""The table's upkeep: small files compacted, old snapshots expired, files no snapshot needs deleted."""
