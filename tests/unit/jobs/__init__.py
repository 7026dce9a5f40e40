"""The job interface and the jobs: `landfall.jobs`."""
