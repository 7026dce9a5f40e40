"""The command line (without AWS: moto in process)."""
