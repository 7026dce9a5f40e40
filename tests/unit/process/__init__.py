"""The processor's stage: `landfall.process`."""
