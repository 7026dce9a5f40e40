"""Deprecated: import `HOURLY`, `DAILY` and `Partitioning` from `landfall.jobs`. Kept one version for jobs
written before the library was split by stage; nothing in Landfall imports it."""

import warnings

from landfall.jobs import DAILY, HOURLY, Partitioning

__all__ = ["DAILY", "HOURLY", "Partitioning"]

warnings.warn(
    "landfall.partitioning is deprecated: import HOURLY, DAILY and Partitioning from landfall.jobs",
    DeprecationWarning,
    stacklevel=2,
)
