"""The `landfall` command: the local emulator, the demo, and operator tools. Never deployed."""
