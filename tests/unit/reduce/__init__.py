"""The reducer's stage: `landfall.reduce`."""
