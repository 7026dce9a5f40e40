"""The `landfall` command: the demo, operator tools and `invoke`. Never deployed."""
