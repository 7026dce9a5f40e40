"""The shared core: `landfall.core`."""
