"""The docs stay true: generated parts match what they are generated from, every shell command is run by
a test or marked as needing AWS, and every link points at a page and heading that exist."""

from __future__ import annotations

import re
import shlex
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.docs_render import REGENERATE, ROOT, expected_pages

PAGES = sorted([ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").glob("*.md")])
SHELL_LANGUAGES = {"sh", "bash", "shell", "console"}
NEEDS_AWS = "# needs AWS"  # first line of a block, or a line's own comment: the command needs an AWS account

# Every command of a shell block that needs no AWS account, and the file that runs it. That file must hold
# the command as written, or (for `landfall`, `python` and `make demo ARGS=…`) its subcommand, options and
# plain-word arguments as quoted argv words: the test runs it with values of its own.
RUN_BY = {
    "make demo": "tests/integration/test_demo.py",
    "make test": ".ci/run",
    'make demo ARGS="--objects 200 --records 5000 --bad-ratio 0.02 --batch-size 10 --concurrency 16"': (
        "tests/integration/test_demo.py"
    ),
    'make demo ARGS="--source ~/Downloads/firehose-output --out ./demo-out"': "tests/integration/test_demo.py",
    'make demo ARGS="--keep 30"': "tests/integration/test_demo.py",
    '.venv/bin/landfall query --local "SELECT type, count(*) AS events FROM events_unique GROUP BY type"': (
        "tests/integration/test_demo.py"
    ),
    ".venv/bin/landfall demo --help": "tests/unit/cli/test_options.py",
    ".venv/bin/landfall backfill --local --since 2031-01-01T03 --until 2031-01-01T04 --dry-run": (
        "tests/integration/test_cli.py"
    ),
    ".venv/bin/landfall backfill --local --prefix raw/2031/01/01/07/": "tests/integration/test_cli.py",
    ".venv/bin/landfall status <run-id> --local": "tests/integration/test_cli.py",
    ".venv/bin/landfall report <run-id> --local --json": "tests/integration/test_cli.py",
    ".venv/bin/landfall redrive <run-id> --local": "tests/integration/test_cli.py",
    **{
        f".venv/bin/landfall invoke {function} -e events/{sample}": "tests/artifact/test_built_functions.py"
        for function, sample in (
            ("ManifestWriterFunction", "manifest_writer/sqs-s3-notifications.json"),
            ("ProcessorFunction", "processor/batch.json"),
            ("ReducerFunction", "reducer/run.json"),
            ("CatalogFunction", "catalog/create.json"),
            ("ConcurrencyCheckFunction", "concurrency_check/create.json"),
            ("UpkeepPlanFunction", "upkeep/plan.json"),
            ("UpkeepFinishFunction", "upkeep/finish.json"),
            ("CompactorFunction", "compactor/stale-item.json"),
        )
    },
    ".venv/bin/landfall compact --local --partition dt=2026-10-03/hour=07 --no-housekeeping": (
        "tests/integration/test_upkeep.py"
    ),
    ".venv/bin/landfall query --local "
    "\"SELECT date_trunc('hour', ts) AS hour, count(*) FROM events_unique GROUP BY 1 ORDER BY 1\"": (
        "tests/unit/cli/test_query.py"
    ),
    '.venv/bin/landfall query --local --format csv "SELECT * FROM quarantine" > quarantine.csv': (
        "tests/unit/cli/test_query.py"
    ),
    '.venv/bin/landfall query --local --format json "SELECT * FROM events LIMIT 100" | jq .source_key': (
        "tests/unit/cli/test_query.py"
    ),
    ".venv/bin/python -m landfall.jobs": "tests/unit/table/test_schema.py",
    ".venv/bin/python -m landfall.jobs examples.orders_job:OrdersJob quarantine": "tests/unit/table/test_schema.py",
}


@dataclass(frozen=True)
class Command:
    text: str
    needs_aws: bool
    where: str


# ---------------------------------------------------------------- reading the pages
def fenced_blocks(text: str) -> Iterator[tuple[str, int, list[str]]]:
    """Each fenced block: its language, the line it starts on, its lines."""
    lines = text.splitlines()
    start = None
    for number, line in enumerate(lines, 1):
        if line.startswith("```") and start is None:
            start, language = number, line.removeprefix("```").strip()
        elif line.startswith("```"):
            yield language, start, lines[start : number - 1]
            start = None


def without_comment(line: str) -> tuple[str, str]:
    """A shell line split into its command and its trailing comment (a `#` after a space, outside quotes)."""
    quote = None
    for index, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].rstrip(), line[index:]
    return line.rstrip(), ""


def shell_lines(block: list[str], console: bool) -> Iterator[tuple[int, str]]:
    """The block's command lines: continuations joined, here-documents and comment lines left out."""
    lines = iter(enumerate(block))
    for index, line in lines:
        if console and not line.startswith("$ "):
            continue
        line = line.removeprefix("$ ") if console else line
        while line.endswith("\\"):
            line = line[:-1] + next(lines)[1].strip()
        heredoc = re.search(r"<<-?\s*'?\"?(\w+)", line)
        if heredoc:
            for _, body in lines:
                if body.strip() == heredoc.group(1):
                    break
        if line.strip() and not line.lstrip().startswith("#"):
            yield index, line.strip()


def commands() -> Iterator[Command]:
    for page in PAGES:
        for language, start, block in fenced_blocks(page.read_text()):
            if language not in SHELL_LANGUAGES:
                continue
            block_needs_aws = bool(block) and block[0].strip().startswith(NEEDS_AWS)
            for index, line in shell_lines(block, language == "console"):
                command, comment = without_comment(line)
                where = f"{page.relative_to(ROOT)}:{start + 1 + index}"
                yield Command(command, block_needs_aws or comment.startswith(NEEDS_AWS), where)


# ---------------------------------------------------------------- what a test must hold
ARGV_WORD = re.compile(r"-{0,2}[A-Za-z][\w.:-]*")  # options and plain words: no paths, numbers, SQL or placeholders
PROGRAMS = {"landfall", ".venv/bin/landfall", "python", "python3", ".venv/bin/python"}


def argv_words(command: str) -> list[str]:
    """The words a test running the command passes as argv, or [] when only the command as written will do."""
    words = shlex.split(command)
    for stop in ("|", ">", ">>", "<", "&&", ";"):
        words = words[: words.index(stop)] if stop in words else words
    if words[:2] == ["make", "demo"]:  # the Makefile: $(BIN)/landfall demo $(ARGS)
        arguments = [word.removeprefix("ARGS=") for word in words[2:] if word.startswith("ARGS=")]
        words = ["demo", *(shlex.split(arguments[0]) if arguments else [])]
    elif words and words[0] in PROGRAMS:
        words = words[1:]
    else:
        return []
    return [word for word in words if ARGV_WORD.fullmatch(word)]


def runs(test_file: str, command: str) -> bool:
    text = (ROOT / test_file).read_text()
    words = argv_words(command)
    return command in text or bool(words) and all(f'"{word}"' in text for word in words)


# ---------------------------------------------------------------- links
def headings(text: str) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    seen: Counter[str] = Counter()
    slugs: set[str] = set()
    for line in prose(text).splitlines():
        heading = re.match(r"#{1,6}\s+(.+?)\s*#*$", line)
        if heading:
            slug = re.sub(r"[^\w\- ]", "", heading.group(1).lower()).replace(" ", "-")
            slugs.add(f"{slug}-{seen[slug]}" if seen[slug] else slug)
            seen[slug] += 1
    return slugs


def prose(text: str) -> str:
    """The page without its fenced blocks."""
    return re.sub(r"^```.*?^```[ \t]*$", "", text, flags=re.M | re.S)


PATH = re.compile(
    r"`((?:\.ci|benchmarks|cli|docs|emulator|events|examples|functions|landfall|layers|statemachine|tests)"
    r"(?:/[\w.-]+)+/?)`"
)


def paths(text: str) -> Iterator[str]:
    """The repository paths a page names in code spans (`landfall/…` for the library's)."""
    for path in PATH.findall(prose(text)):
        yield f"layers/common/{path}" if path.startswith("landfall/") else path


def links(text: str) -> Iterator[str]:
    for line in prose(text).splitlines():
        yield from re.findall(r"\]\(([^)\s]+)\)", re.sub(r"`[^`]*`", "", line))


# ---------------------------------------------------------------- the tests
@pytest.mark.parametrize("path", sorted(expected_pages()), ids=lambda path: str(path.relative_to(ROOT)))
def test_generated_parts_of_the_docs_are_what_their_sources_give(path: Path):
    expected = expected_pages()[path]
    actual = path.read_text() if path.exists() else ""
    assert actual == expected, f"{path.relative_to(ROOT)} is out of date: run `{REGENERATE}`"


def test_every_shell_command_is_run_by_a_test_or_needs_aws():
    unaccounted = [f"{c.where}: {c.text}" for c in commands() if not c.needs_aws and c.text not in RUN_BY]
    assert unaccounted == [], (
        f"run each in a test and add it to RUN_BY, mark it `{NEEDS_AWS}`, or take it out of the docs"
    )


def test_the_registry_names_only_commands_the_docs_show_and_tests_that_run_them():
    shown = {c.text for c in commands() if not c.needs_aws}
    assert sorted(set(RUN_BY) - shown) == [], "RUN_BY lists commands the docs no longer show"
    not_run = [f"{command} (by {test})" for command, test in RUN_BY.items() if not runs(test, command)]
    assert not_run == []


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ('make demo ARGS="--keep 30"', ["demo", "--keep"]),
        (".venv/bin/landfall status <run-id> --local", ["status", "--local"]),
        ('landfall query --local --format csv "SELECT 1" > out.csv', ["query", "--local", "--format", "csv"]),
        (".venv/bin/python -m landfall.jobs examples.x:Job", ["-m", "landfall.jobs", "examples.x:Job"]),
        ("make test", []),
        ("aws s3 ls", []),
    ],
)
def test_a_command_is_matched_by_its_argv_words(command, words):
    assert argv_words(command) == words


def test_commands_are_read_from_shell_blocks_only_with_their_markers():
    page = "```sh\n# needs AWS\nsam deploy \\\n  --guided\n```\n```sh\nmake demo   # here\ncat <<EOF\nx\nEOF\n```\n"
    blocks = [(language, block) for language, _, block in fenced_blocks(page)]
    assert [list(shell_lines(block, False)) for _, block in blocks] == [
        [(1, "sam deploy --guided")],
        [(0, "make demo   # here"), (1, "cat <<EOF")],
    ]
    assert without_comment('echo "a # b"  # needs AWS') == ('echo "a # b"', "# needs AWS")


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_link_points_at_a_page_and_heading_that_exist(page: Path):
    broken = []
    for link in links(page.read_text()):
        if re.match(r"[a-z]+:", link):
            continue  # http(s), mailto: not ours to check
        target, _, anchor = link.partition("#")
        path = (page.parent / target).resolve() if target else page
        if not path.exists() or anchor and path.suffix == ".md" and anchor not in headings(path.read_text()):
            broken.append(link)
    assert broken == []


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_path_a_page_names_exists(page: Path):
    assert [path for path in paths(page.read_text()) if not (ROOT / path).exists()] == []


def test_headings_get_githubs_anchors():
    text = "# The `landfall` command\n## Within AWS's limits\n## Parts\n## Parts\n```\n# not a heading\n```\n"
    assert headings(text) == {"the-landfall-command", "within-awss-limits", "parts", "parts-1"}


def test_the_readme_is_a_first_screen_and_every_page_leads_back_to_it():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    assert "make demo" in readme.split("\n## ")[0] and "make test" in readme.split("\n## ")[0]
    assert "before-the-first-make" in headings(readme)  # the Makefile's message sends a newcomer there
    assert 'the README\'s "Before the first make"' in (ROOT / "Makefile").read_text()
    for page in (ROOT / "docs").glob("*.md"):
        assert "](../README.md)" in page.read_text().split("\n\n## ")[0], page.name
