"""Print the column table of each job named (`module:Class`, the default job without one), or of the
quarantine (`quarantine`): `python -m landfall.jobs [spec ...]`, the tables the docs show."""

import sys

from landfall.jobs import DEFAULT_JOB, load_job
from landfall.table.quarantine import QUARANTINE_TABLE
from landfall.table.schema import table_of


def main(specs: list[str]) -> None:
    for spec in specs or [DEFAULT_JOB]:
        print(QUARANTINE_TABLE.markdown() if spec == "quarantine" else table_of(load_job(spec)).markdown())


if __name__ == "__main__":
    main(sys.argv[1:])
