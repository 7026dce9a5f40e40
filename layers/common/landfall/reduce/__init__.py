"""The reducer's stage: a run's result files read back, every object accounted for in the ledger, the
aggregates merged, the run report and its cost."""
