"""What every stage shares: message and settings bases, the object layout, AWS clients, logging, writers.

Core imports no stage (an import-linter contract in `make lint` holds it)."""
