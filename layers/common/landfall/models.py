"""Deprecated: import `AggregateTable` from `landfall.jobs`. Kept one version for jobs written before the
library was split by stage; nothing in Landfall imports it."""

import warnings

from landfall.jobs import AggregateTable

__all__ = ["AggregateTable"]

warnings.warn(
    "landfall.models is deprecated: import AggregateTable from landfall.jobs", DeprecationWarning, stacklevel=2
)
