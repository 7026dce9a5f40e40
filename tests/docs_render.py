"""The generated parts of the docs: the message reference and the benchmark figures.

`docs/messages.md` is rendered whole from the library's message models; the tables between
`<!-- generated from benchmarks/reference.json -->` and `<!-- end -->` in `docs/performance.md` and
`docs/deploy.md` from the benchmark run the docs show. `python -m tests.docs_render` writes them, and
`tests/unit/repo/test_docs.py` fails while a page differs from what this renders. Nothing here imports the
command line or the emulator.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import re
import sys
import types
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

# Where the messages live. The module that defines `Message` also holds `MESSAGE_VERSION`.
MESSAGE_MODULES = (
    "landfall.core.messages",
    "landfall.ingest.messages",
    "landfall.process.messages",
    "landfall.reduce.messages",
    "landfall.jobs",
)

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "benchmarks" / "reference.json"
BEGIN = "<!-- generated from benchmarks/reference.json -->"
END = "<!-- end -->"
REGENERATE = "python -m tests.docs_render"


# ---------------------------------------------------------------- messages
def message_base() -> tuple[type[BaseModel], int]:
    """The `Message` base class and the version every message carries."""
    for module in [importlib.import_module(name) for name in MESSAGE_MODULES]:  # every one: subclasses register
        base = vars(module).get("Message")
        if isinstance(base, type) and base.__module__ == module.__name__:
            return base, module.MESSAGE_VERSION
    raise LookupError(f"no module of {MESSAGE_MODULES} defines Message")


def subclasses(base: type) -> Iterator[type]:
    for cls in base.__subclasses__():
        yield cls
        yield from subclasses(cls)


def message_classes() -> list[type[BaseModel]]:
    """Every subclass of `Message` the message modules define, in the order of the modules and of the source."""
    base, _ = message_base()
    found = {cls for cls in subclasses(base) if cls.__module__ in MESSAGE_MODULES}
    return sorted(found, key=lambda cls: (MESSAGE_MODULES.index(cls.__module__), inspect.getsourcelines(cls)[1]))


def models_in(annotation: Any) -> Iterator[type]:
    """The models (pydantic, or dataclasses such as the counts) a field's type names, however nested."""
    if isinstance(annotation, type) and (issubclass(annotation, BaseModel) or dataclasses.is_dataclass(annotation)):
        yield annotation
    for argument in typing.get_args(annotation):
        yield from models_in(argument)


def parts_of(messages: list[type[BaseModel]]) -> list[type[BaseModel]]:
    """The models that messages hold in their fields (not messages themselves), in the order first met."""
    parts: list[type[BaseModel]] = []
    pending = list(messages)
    while pending:
        for field in fields_of(pending.pop(0)).values():
            for model in models_in(field.annotation):
                if model not in messages and model not in parts:
                    parts.append(model)
                    pending.append(model)
    return parts


def type_name(annotation: Any) -> str:
    """A field's type as a reader of the JSON sees it: unions with `|`, a Literal as its values."""
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is None or annotation is type(None):
        return "None"
    if origin is typing.Literal:
        return " | ".join(json.dumps(value) for value in arguments)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(argument) for argument in arguments)
    if origin is not None:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(type_name(a) for a in arguments)}]"
    return getattr(annotation, "__name__", str(annotation).removeprefix("typing."))


def comments(cls: type) -> dict[str, str]:
    """Each field's comment in the class's source: after it on its line, or on the lines just above it."""
    found: dict[str, str] = {}
    above: list[str] = []
    for line in inspect.getsource(cls).splitlines()[1:]:
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped.lstrip("# "))
            continue
        field = re.match(r"(\w+)\s*:[^#]*(?:#\s*(.*))?$", stripped)
        if field and field.group(1) in cls.__dict__.get("__annotations__", {}):
            found[field.group(1)] = field.group(2) or " ".join(above)
        above = []
    return found


def default_of(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
    try:
        return f"`{json.dumps(value, ensure_ascii=False)}`"
    except TypeError:
        return f"`{value!r}`"


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def fields_of(cls: type) -> dict[str, FieldInfo]:
    """A model's fields; a dataclass's as pydantic sees them, with the title in their metadata."""
    if not dataclasses.is_dataclass(cls):
        return cls.model_fields  # type: ignore[attr-defined]
    hints = typing.get_type_hints(cls)
    infos = {}
    for field in dataclasses.fields(cls):
        title = field.metadata.get("title")
        if field.default_factory is not dataclasses.MISSING:
            infos[field.name] = FieldInfo(
                annotation=hints[field.name], default_factory=field.default_factory, title=title
            )
        else:
            infos[field.name] = FieldInfo(annotation=hints[field.name], default=field.default, title=title)
    return infos


def field_rows(cls: type) -> list[str]:
    said: dict[str, str] = {}
    own = cls.__mro__[: cls.__mro__.index(BaseModel)] if issubclass(cls, BaseModel) else cls.__mro__[:-1]
    for klass in reversed(own):
        said |= comments(klass)
    rows = ["| field | type | default | what |", "|---|---|---|---|"]
    for name, field in fields_of(cls).items():
        what = field.description or said.get(name, "")
        if field.title:
            what = f"{what}; the report calls it “{field.title}”" if what else f"the report calls it “{field.title}”"
        shown = f"`{name}`" if field.alias in (None, name) else f"`{field.alias}` (`{name}`)"
        rows.append(f"| {shown} | `{cell(type_name(field.annotation))}` | {default_of(field)} | {cell(what)} |")
    return rows


def first_line(cls: type) -> str:
    doc = cls.__dict__.get("__doc__") or ""
    return inspect.cleandoc(doc).split("\n\n")[0].replace("\n", " ") if doc else "(no docstring)"


def stage_of(cls: type) -> str:
    """The library package that owns a class: `landfall.ingest.messages` → `ingest`."""
    return cls.__module__.split(".")[1] if cls.__module__.count(".") else cls.__module__


def model_section(cls: type[BaseModel], level: str) -> list[str]:
    return [
        f"{level} {cls.__name__}",
        "",
        f"Stage `{stage_of(cls)}` · `{cls.__module__}` · {first_line(cls)}",
        "",
        *field_rows(cls),
        "",
    ]


MESSAGES_INTRO = """\
# Messages

Every message that passes between the parts of the pipeline is a pydantic model with a `version` field.
This page lists them with their fields, as the code declares them; what flows where is in
[design.md](design.md#messages). Back to the [README](../README.md).

This page is generated: `{regenerate}` writes it from the message models, and
`tests/unit/repo/test_docs.py` fails while it differs. A field's "what" is its description, or the comment
beside it in the code.
"""


def render_messages() -> str:
    _, version = message_base()
    messages = message_classes()
    lines = [MESSAGES_INTRO.format(regenerate=REGENERATE), f"Messages are at version {version}.", ""]
    lines += ["| message | stage | what |", "|---|---|---|"]
    lines += [
        f"| [{cls.__name__}](#{cls.__name__.lower()}) | {stage_of(cls)} | {cell(first_line(cls))} |" for cls in messages
    ]
    lines += ["", "## Each message", ""]
    for cls in messages:
        lines += model_section(cls, "###")
    lines += ["## Their parts", "", "The models the messages hold in their fields.", ""]
    for cls in parts_of(messages):
        lines += model_section(cls, "###")
    return "\n".join(lines).rstrip("\n") + "\n"


# ---------------------------------------------------------------- benchmark figures
def ratio(value: float) -> str:
    return f"{value:.2f}×"


def mb_per_s(reference: dict[str, Any], seconds: float) -> str:
    return f"{reference['uncompressed_mb'] / seconds:,.0f} MB/s"


def aims_table(reference: dict[str, Any]) -> list[str]:
    aims = reference["aims"]
    rows = ["| figure | measured | aim | |", "|---|---:|---|---|"]
    rows += [
        f"| {cell(aim['figure'])} | {aim['measured']} | {cell(aim['aim'])} | {'met' if aim['met'] else '**not met**'} |"
        for aim in aims
    ]
    return [*rows, "", f"{sum(aim['met'] for aim in aims)} of {len(aims)} aims met."]


def speed_rows(reference: dict[str, Any]) -> list[str]:
    speed = reference["speed"]
    return [
        f"| `zcat FILE \\| wc -l`, the yardstick | {mb_per_s(reference, speed['zcat_wc_s'])} |",
        "| core loop (decompress + frame + decode + validate + aggregate), as for a large object | "
        f"{mb_per_s(reference, speed['core_loop_s'])}, **{ratio(speed['core_loop_x_zcat'])}** `zcat` |",
        "| DuckDB `read_json`, lenient, one thread, the same aggregate (names no bad line) | "
        f"{mb_per_s(reference, speed['duckdb_s'])}, {ratio(speed['zcat_wc_s'] / speed['duckdb_s'])} `zcat` |",
        f"| core loop vs DuckDB lenient | **{ratio(speed['core_loop_x_duckdb'])}** |",
        "| the processor through S3 (moto on 127.0.0.1), Parquet written | "
        f"{mb_per_s(reference, speed['handler_s'])}, **{ratio(speed['handler_x_zcat'])}** `zcat`, "
        f"**{ratio(speed['handler_x_core_loop'])}** its own core loop |",
        "| the same with its read-ahead and upload threads, vs inline, on one core | "
        f"{ratio(speed['threads_x_inline'])} |",
        "| the previous release through S3, gzip JSON lines written, same rounds | "
        f"{mb_per_s(reference, speed['json_lines_handler_s'])}, {ratio(speed['json_lines_x_zcat'])} `zcat` |",
        f"| Parquet output vs gzip JSON lines, speed | **{ratio(speed['parquet_x_json_lines'])}** |",
        f"| curated bytes per input (gzip) byte | **{speed['parquet_bytes_per_input_byte']:.2f}** "
        f"(gzip JSON lines: {speed['json_lines_bytes_per_input_byte']:.2f}); "
        f"{speed['parquet_files_per_object']} files per object |",
        "| the processor vs the common approach (whole `get_object` + `json.loads` per line + pydantic) | "
        f"**{speed['handler_x_common_approach']:.1f}×** faster ({speed['common_approach_s']:.1f} s) |",
        "| 1 TB of gzip input, the whole pipeline | "
        f"**${speed['terabyte']['usd_per_tb']['x86_64']:.2f}** x86_64, "
        f"${speed['terabyte']['usd_per_tb']['arm64']:.2f} arm64 (same speed assumed) |",
    ]


def resource_rows(reference: dict[str, Any]) -> list[str]:
    memory, small, writer = reference["memory"], reference["small_objects"], reference["manifest_writer"]
    backfill, reducer = reference["backfill"], reference["reducer"]
    return [
        "| peak RSS, processor, 512 MiB / 2 GiB of input (in Lambda's environment) | "
        f"**{memory['processor_512mib_rss_mb']:,.0f} MB / {memory['processor_2048mib_rss_mb']:,.0f} MB** |",
        f"| peak RSS, common approach, 512 MiB of input | {memory['common_approach_512mib_rss_mb']:,.0f} MB |",
        f"| 500 small objects, +20 ms per S3 request | {small['concurrent_s']:.1f} s concurrently, "
        f"{small['one_by_one_s']:.1f} s one by one: **{small['x']:.1f}×** |",
        f"| manifest writer, a batch of {writer['notifications']:,} notifications (parse, decode, filter, "
        f"de-duplicate, serialize) | **{writer['per_second']:,.0f}/s** "
        f"(`json.loads` of the bodies alone: {writer['json_loads_per_second']:,.0f}/s) |",
        "| peak RSS, backfill of 10,000 / 100,000 listed keys | "
        f"**{backfill['keys_10000_rss_mb']:.0f} MB / {backfill['keys_100000_rss_mb']:.0f} MB** |",
        f"| reducer, 100,000 result records | {reducer['reducer_100000_s']:.1f} s, **{ratio(reducer['x_naive'])}** "
        f"a naive `json.load` of every file ({reducer['naive_100000_s']:.1f} s) |",
        "| peak RSS, reducer / naive, 10,000 → 100,000 result records | "
        f"**{reducer['reducer_10000_rss_mb']:.0f} → {reducer['reducer_100000_rss_mb']:.0f} MB** / "
        f"{reducer['naive_10000_rss_mb']:.0f} → {reducer['naive_100000_rss_mb']:.0f} MB |",
    ]


def cold_start_rows(reference: dict[str, Any]) -> list[str]:
    cold = reference["cold_start"]
    names = [key.removesuffix("_ms") for key in cold if key.endswith("_ms")]
    return [
        f"| cold start, {name} | **{cold[f'{name}_ms']:.0f} ms**, {cold[f'{name}_modules']} modules |" for name in names
    ]


def render_performance(reference: dict[str, Any]) -> str:
    lines = [
        f"Each figure beside its aim (`benchmarks/aims.py`), from {reference['uncompressed_mb']} MB of "
        f"generated events, the median of {reference['rounds']} rounds:",
        "",
        *aims_table(reference),
        "",
        "What was measured:",
        "",
        "| measure | result |",
        "|---|---|",
        *speed_rows(reference),
        *resource_rows(reference),
        *cold_start_rows(reference),
    ]
    return "\n".join(lines)


def render_costs(reference: dict[str, Any]) -> str:
    terabyte = reference["speed"]["terabyte"]
    x86, arm = terabyte["cost"], terabyte["cost_arm64"]
    usage = x86["usage"]

    def usd(name: str) -> str:
        return f"${x86[name]:.2f} | ${arm[name]:.2f}"

    lines = [
        f"From the processor's measured throughput through S3 ({terabyte['throughput_bytes_per_second'] / 1e6:.1f} "
        f"MB/s of gzip input on one core), {terabyte['curated_ratio']:.2f} Parquet bytes per input byte and "
        f"{terabyte['files_per_batch']} files per batch ({terabyte['files']:,} in all; half the bytes in files of "
        f"{terabyte['half_bytes_in_files_of_mb']:.0f} MB or more) and a commit of {terabyte['commit_seconds']:.1f} s:",
        "",
        "| service | usage | x86_64 | arm64 |",
        "|---|---|---:|---:|",
        f"| Lambda | {usage['lambda_requests']:,} invocations, {usage['lambda_gb_seconds']:,.0f} GB-s "
        f"| {usd('lambda_usd')} |",
        f"| Step Functions | {usage['state_transitions']:,} state transitions (per STANDARD child: the map's "
        f"transition that starts it and its task) | {usd('step_functions_usd')} |",
        f"| S3 requests | {usage['s3_gets']:,} GETs, {usage['s3_puts']:,} PUTs (each batch's "
        f"{terabyte['files_per_batch']} files, one an hour of its records: {terabyte['curated_puts']:,} PUTs, the "
        f"largest in 32 MiB parts past 64 MiB; each object's quarantine; each batch's progress marker; the "
        f"commit's metadata) | {usd('s3_usd')} |",
        f"| Glue Data Catalog | {usage['glue_requests']} requests (the commit) | {usd('glue_usd')} |",
        f"| **total** | {terabyte['batches']:,} batches, about {terabyte['minutes']:.0f} minutes at the default "
        f"`MaxConcurrency` (100) | **${x86['total_usd']:.2f}** | **${arm['total_usd']:.2f}** |",
        "",
        *elsewhere_rows(reference),
    ]
    return "\n".join(lines)


def elsewhere_rows(reference: dict[str, Any]) -> list[str]:
    elsewhere, total = reference["speed"]["elsewhere"], reference["speed"]["terabyte"]["cost"]["total_usd"]
    return [
        f"What the same terabyte costs elsewhere ({elsewhere['json_gb_per_tb_gzip'] / 1000:.1f} GB of JSON per GB "
        "of gzip in the bench's file):",
        "",
        "| alternative | what it charges | 1 TB of gzip input |",
        "|---|---|---:|",
        "| Athena over the gzip JSON in place ([pricing](https://aws.amazon.com/athena/pricing/)) | $5 per TB "
        f"scanned, per query | ${elsewhere['athena_usd_per_query']:.2f} **per query** that reads it all |",
        "| Firehose record format conversion to Parquet ([pricing](https://aws.amazon.com/firehose/pricing/)) | "
        "$0.018 per GB ingested, each record rounded up to 5 KB | "
        f"${elsewhere['firehose_conversion_usd_batched']:,.0f} with events batched ≥ 5 KB a record; "
        f"${elsewhere['firehose_conversion_usd_one_event_per_record']:,.0f} at one event a record |",
        "| an AWS Glue ETL job ([pricing](https://aws.amazon.com/glue/pricing/)) | $0.44 per DPU-hour | "
        f"Landfall's ${total:.2f} buys {elsewhere['glue_dpu_hours_at_landfalls_price']:.1f} DPU-hours |",
    ]


GENERATED: dict[str, Callable[[dict[str, Any]], str]] = {
    "docs/performance.md": render_performance,
    "docs/deploy.md": render_costs,
}


def with_block(page: str, block: str) -> str:
    """The page with the text between its markers replaced by `block`."""
    start, end = page.index(BEGIN) + len(BEGIN), page.index(END, page.index(BEGIN))
    return f"{page[:start]}\n{block}\n{page[end:]}"


def expected_pages() -> dict[Path, str]:
    """Every generated page, or page with a generated block, as it should read."""
    reference = json.loads(REFERENCE.read_text())
    pages = {ROOT / "docs/messages.md": render_messages()}
    for name, render in GENERATED.items():
        pages[ROOT / name] = with_block((ROOT / name).read_text(), render(reference))
    return pages


def main() -> None:
    for path, text in expected_pages().items():
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
