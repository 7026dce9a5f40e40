"""The deploy-time check: `landfall.deploy`."""
