"""Reading a Distributed Map's items as AWS does: the fields moto's grammar lacks, the ItemReader, the
ItemSelector and the ItemBatcher.

moto's grammar rejects ItemBatcher, WriterConfig, JSONL input and EXPRESS children: the definition is
parsed with them set aside (`MapExtension`) and they are re-attached to the Map state being built.
Items come from the ItemReader (JSON, CSV, JSONL, or every page of listObjectsV2 in AWS's item
shape), pass through ItemSelector, and are cut by ItemBatcher (MaxItemsPerBatch[Path],
MaxInputBytesPerBatch[Path], BatchInput) into `{"BatchInput": ..., "Items": [...]}`, or
`{"Items": [...]}` without a BatchInput.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from moto.stepfunctions.parser.asl.component.state.exec.state_map import state_map as state_map_module
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import (
    resource_eval_s3 as reader_s3,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_output_transformer.transformer import (  # noqa: E501
    ResourceOutputTransformer,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
    distributed_iteration_component as distributed,
)
from moto.stepfunctions.parser.asl.eval.states import ItemData, MapData
from moto.stepfunctions.parser.asl.parse import asl_parser
from moto.stepfunctions.parser.asl.utils.json_path import extract_json

EXTENSION = "_landfall_map_extension"  # the attribute a distributed iteration component carries its MapExtension in


@dataclass
class MapExtension:
    """The fields of one Distributed Map state that moto's grammar lacks."""

    item_batcher: dict[str, Any] | None = None
    writer_config: dict[str, Any] = field(default_factory=dict)
    jsonl_reader: bool = False
    express: bool = False
    tolerance_fields: frozenset[str] = frozenset()
    result_writer: Any = None  # the parsed ResultWriter, to write results when the map fails


def _set_aside(states: dict[str, Any], found: dict[str, MapExtension]) -> None:
    """Remove what the grammar rejects from every Distributed Map, remembering it by state name."""
    for name, state in states.items():
        if state.get("Type") == "Map":
            processor = state.get("ItemProcessor") or state.get("Iterator") or {}
            config = processor.get("ProcessorConfig", {})
            if config.get("Mode") == "DISTRIBUTED":
                ext = MapExtension(
                    item_batcher=state.pop("ItemBatcher", None),
                    tolerance_fields=frozenset(k for k in state if k.startswith("ToleratedFailure")),
                )
                if isinstance(state.get("ToleratedFailurePercentage"), int):
                    state["ToleratedFailurePercentage"] = float(state["ToleratedFailurePercentage"])
                writer = state.get("ResultWriter")
                if writer is not None:
                    ext.writer_config = writer.pop("WriterConfig", None) or {}
                    if not writer:
                        state.pop("ResultWriter")
                reader_config = (state.get("ItemReader") or {}).get("ReaderConfig") or {}
                if reader_config.get("InputType") == "JSONL":
                    reader_config["InputType"] = "JSON"
                    ext.jsonl_reader = True
                if config.get("ExecutionType") == "EXPRESS":
                    config["ExecutionType"] = "STANDARD"
                    ext.express = True
                found[name] = ext
            _set_aside(processor.get("States", {}), found)
        for branch in state.get("Branches", []):
            _set_aside(branch.get("States", {}), found)


_original_parse = asl_parser.AmazonStateLanguageParser.parse
_parse_local = threading.local()


def parse(definition: str):
    document = json.loads(definition)
    found: dict[str, MapExtension] = {}
    _set_aside(document.get("States", {}), found)
    _parse_local.found = found
    try:
        return _original_parse(json.dumps(document))
    finally:
        _parse_local.found = {}


_original_from_state_props = state_map_module.StateMap.from_state_props


def from_state_props(self, state_props) -> None:
    """Re-attach what `_parse` set aside to the Map state being built."""
    _original_from_state_props(self, state_props)
    ext = getattr(_parse_local, "found", {}).get(self.name)
    if ext is None or not isinstance(self.iteration_component, distributed.DistributedIterationComponent):
        return
    ext.result_writer = self.result_writer
    setattr(self.iteration_component, EXTENSION, ext)
    if ext.jsonl_reader and self.item_reader is not None:
        self.item_reader.resource_output_transformer = JsonLinesTransformer()


class JsonLinesTransformer(ResourceOutputTransformer):
    """ReaderConfig InputType JSONL: one item per non-blank line."""

    def _eval_body(self, env) -> None:
        reader_config = env.stack.pop()
        content: str = env.stack.pop()
        items = [json.loads(line) for line in content.splitlines() if line.strip()]
        env.stack.append(items[: reader_config["MaxItemsValue"]])


# ------------------------------------------------------------------------------------------ reading


def list_objects_v2(env, resource_runtime_part, state_credentials) -> None:
    """Every page, each object in the shape AWS gives Map items (Etag, Key, LastModified, Size, StorageClass)."""
    s3 = reader_s3.ResourceEvalS3._get_s3_client(
        resource_runtime_part=resource_runtime_part, state_credentials=state_credentials
    )
    parameters = env.stack.pop()
    items = []
    for page in s3.get_paginator("list_objects_v2").paginate(**parameters):
        for obj in page.get("Contents", []):
            items.append(
                {
                    "Etag": obj["ETag"],
                    "Key": obj["Key"],
                    "LastModified": int(obj["LastModified"].timestamp()),
                    "Size": obj["Size"],
                    "StorageClass": obj.get("StorageClass", "STANDARD"),
                }
            )
    env.stack.append(items)


def select_items(env, eval_input, items: list[Any]) -> list[Any]:
    """Apply ItemSelector (or legacy Parameters) to each item, as AWS does before batching."""
    selector = eval_input.item_selector or eval_input.parameters
    if selector is None:
        return items
    state_input = env.states.get_input()
    selected = []
    for index, item in enumerate(items):
        frame = env.open_inner_frame()
        try:
            frame.states.context_object.context_object_data["Map"] = MapData(Item=ItemData(Index=index, Value=item))
            frame.states.reset(input_value=state_input)
            frame.stack.append(state_input)
            selector.eval(frame)
            selected.append(frame.stack[-1])
        finally:
            env.delete_frame(frame)
    return selected


def _resolve(template: Any, state_input: Any, context: Any) -> Any:
    """Evaluate a payload template's `key.$` paths (`$` state input, `$$` context object)."""
    if isinstance(template, dict):
        resolved = {}
        for key, value in template.items():
            if key.endswith(".$"):
                if not isinstance(value, str) or not value.startswith("$"):
                    raise ValueError(f"local engine: only paths are supported in BatchInput, got {value!r}")
                source = context if value.startswith("$$") else state_input
                resolved[key[:-2]] = extract_json(value[1:] if value.startswith("$$") else value, source)
            else:
                resolved[key] = _resolve(value, state_input, context)
        return resolved
    if isinstance(template, list):
        return [_resolve(value, state_input, context) for value in template]
    return template


def _limit(batcher: dict[str, Any], name: str, state_input: Any) -> int | None:
    if name in batcher:
        return int(batcher[name])
    if f"{name}Path" in batcher:
        return int(extract_json(batcher[f"{name}Path"], state_input))
    return None


def cut_batches(
    items: list[Any], batcher: dict[str, Any] | None, state_input: Any, context: Any
) -> list[tuple[Any, int]]:
    """Each child's input and how many items it holds, as ItemBatcher cuts them (one item a child without)."""
    if batcher is None:
        return [(item, 1) for item in items]
    max_items = _limit(batcher, "MaxItemsPerBatch", state_input)
    max_bytes = _limit(batcher, "MaxInputBytesPerBatch", state_input)
    # without BatchInput, AWS gives each child {"Items": [...]} only
    envelope_of = (
        {"BatchInput": _resolve(batcher["BatchInput"], state_input, context)} if "BatchInput" in batcher else {}
    )
    envelope = len(json.dumps({**envelope_of, "Items": []}))
    batches: list[list[Any]] = []
    current: list[Any] = []
    size = envelope
    for item in items:
        item_size = len(json.dumps(item)) + (1 if current else 0)
        if max_bytes is not None and envelope + item_size > max_bytes:
            raise ValueError(f"an item of {item_size} bytes exceeds MaxInputBytesPerBatch ({max_bytes})")
        full = (max_items is not None and len(current) >= max_items) or (
            max_bytes is not None and size + item_size > max_bytes
        )
        if full:
            batches.append(current)
            current, size = [], envelope
            item_size = len(json.dumps(item))
        current.append(item)
        size += item_size
    if current:
        batches.append(current)
    return [({**envelope_of, "Items": batch}, len(batch)) for batch in batches]
