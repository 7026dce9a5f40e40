"""The manifest writer's stage: S3 notifications in, a manifest of batches and a started run out."""
