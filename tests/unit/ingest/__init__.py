"""The manifest writer's stage: `landfall.ingest`."""
