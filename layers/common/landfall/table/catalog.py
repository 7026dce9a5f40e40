"""The Glue Data Catalog entries Athena queries beside the curated Iceberg table: its unique view and
the quarantine table, derived from their record types (`landfall.table.schema`). The curated table's
own entry is Iceberg's (`landfall.commit.tables`): the resource is handed the function that puts it.

The unique view keeps one row per record key within an hour (or day) of event time: a duplicate
delivery repeats a record, event time and all, so a filter on the event time still prunes. The same
view text runs on DuckDB (`landfall query --local`).

A stack from before Iceberg has a Hive-style curated table of the same name: it is kept, renamed
`<table>_hive`, so the files it lists stay queryable (docs/table.md: moving them into the Iceberg table).

The database is named here too (`database_name`): CloudFormation cannot lower a stack name's case, so
the catalog function answers a second custom resource, `Custom::CatalogName`, whose `Database` the
template gives the database, the IAM ARNs, the Lake Formation grants and the stack's outputs.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from landfall.core.custom_resource import CustomResourceRequest, CustomResourceResponse
from landfall.core.layout import QUARANTINE_PREFIX
from landfall.core.observability import logger
from landfall.table.schema import TableSchema

if TYPE_CHECKING:
    from mypy_boto3_glue import GlueClient
    from mypy_boto3_glue.type_defs import ColumnTypeDef, StorageDescriptorTypeDef, TableInputTypeDef

JSON_LINES_FORMAT: StorageDescriptorTypeDef = {
    "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
    "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe", "Parameters": {}},
}
_COMMENT_CHARS = 255  # Glue's limit for a column comment
MANAGED = "landfall.managed"  # a parameter of every entry made here: only those are replaced or removed
NAME_RESOURCE = "Custom::CatalogName"
_NAME_CHARS = 255  # Glue's limit for a database name
# CloudFormation puts the role's Glue policy and Lake Formation grants in place just before the catalog
# resource, and IAM takes seconds to apply them everywhere: 31 s of waits in all, within the timeout
PERMISSION_WAITS_S = (1.0, 2.0, 4.0, 8.0, 16.0)


def database_name(stack_name: str) -> str:
    """The stack's Glue database: its name in lowercase letters, digits and `_`, as Athena takes names
    unquoted (`Landfall-Prod` → `landfall_prod`). The one place the rule lives."""
    folded = re.sub(r"[^a-z0-9_]", "_", stack_name.lower())
    if not folded[:1].isalpha():  # Athena needs quotes around a name that starts otherwise
        folded = f"landfall_{folded}"
    return folded[:_NAME_CHARS]


def name_response(request: CustomResourceRequest) -> CustomResourceResponse:
    """The CatalogName resource: makes nothing, so a delete has nothing to remove. Its name is fixed
    when the stack is created (the stack's name cannot change; a new rule would replace the database)."""
    database = database_name(str(request.properties["StackName"]))
    return CustomResourceResponse(
        status="SUCCESS", physical_resource_id=f"landfall-catalog-name:{database}", data={"Database": database}
    )


class CuratedEntry(Protocol):
    """The curated table's own entry (an Iceberg table: `landfall.commit.tables`)."""

    table: TableSchema
    time_column: str | None  # the event-time column its partitioning transforms

    def put(self, database: str, bucket: str) -> None:
        """Create the table, or evolve it to the job's declaration (raising what it refuses)."""


class LakeFormationDenied(PermissionError):
    """Lake Formation governs the database and has not granted the catalog function's role enough."""

    def __init__(self, database: str, denied: Exception) -> None:
        super().__init__(
            f"Lake Formation denied the catalog function's role on database {database} ({denied}): deploy with "
            "UseLakeFormation=true as a data lake administrator, or grant the role CREATE_TABLE and DESCRIBE on "
            "the database and ALTER, DROP and DESCRIBE on all its tables"
        )


def _columns(table: TableSchema) -> list[ColumnTypeDef]:
    return [{"Name": c.name, "Type": c.types.hive, "Comment": c.description[:_COMMENT_CHARS]} for c in table.columns]


def quarantine_table_input(table: TableSchema, bucket: str) -> TableInputTypeDef:
    """The rejected lines of every run (JSON Lines under `quarantine/<run_id>/`)."""
    return {
        "Name": table.name,
        "Description": "Landfall's rejected lines: where each came from, why, and its bytes",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {MANAGED: "true", "classification": "json", "EXTERNAL": "TRUE"},
        "StorageDescriptor": {
            "Columns": _columns(table),
            "Location": f"s3://{bucket}/{QUARANTINE_PREFIX}",
            **JSON_LINES_FORMAT,
        },
    }


def unique_view_sql(table: TableSchema, time_column: str | None) -> str:
    """One row per key and hour (or day) of `time_column`: the first delivery (by source object, version
    and line). The same text for Athena and DuckDB."""
    if table.key is None:
        raise ValueError(f"table {table.name} declares no record key")
    names = ", ".join(f'"{name}"' for name in table.column_names())
    unit = table.partitioning.transform if table.partitioning is not None else None
    partition = f"date_trunc('{unit}', \"{time_column}\"), " if unit and time_column else ""
    return (  # names from the declaration, which admits letters, digits and _ only
        f'SELECT {names} FROM (SELECT *, row_number() OVER (PARTITION BY {partition}"{table.key}" '  # noqa: S608
        f'ORDER BY "source_key", "source_version_id", "source_line") AS "landfall_delivery" FROM "{table.name}") '
        f'WHERE "landfall_delivery" = 1'
    )


def unique_view_input(table: TableSchema, database: str, time_column: str | None) -> TableInputTypeDef:
    """An Athena view, as Athena's CREATE VIEW stores it in Glue: the Presto view definition in base64."""
    if (name := table.unique_view) is None:
        raise ValueError(f"table {table.name} declares no record key")
    columns = [(c.name, c.types.hive, c.types.trino) for c in table.columns]
    definition = {
        "originalSql": unique_view_sql(table, time_column),
        "catalog": "awsdatacatalog",
        "schema": database,
        "columns": [{"name": name, "type": trino} for name, _, trino in columns],
        "owner": "landfall",
        "runAsInvoker": False,
        "properties": {},
    }
    encoded = base64.b64encode(json.dumps(definition).encode()).decode()
    return {
        "Name": name,
        "Description": f"{table.name}, one row per {table.key} in each partition (deliveries repeat records)",
        "TableType": "VIRTUAL_VIEW",
        "Parameters": {MANAGED: "true", "presto_view": "true", "comment": "Presto View"},
        "ViewOriginalText": f"/* Presto View: {encoded} */",
        "ViewExpandedText": "/* Presto View */",
        "StorageDescriptor": {
            "Columns": [{"Name": name, "Type": hive} for name, hive, _ in columns],
            "SerdeInfo": {},
            "Location": "",
        },
    }


def table_inputs(
    curated: TableSchema, quarantine: TableSchema, bucket: str, database: str, time_column: str | None
) -> list[TableInputTypeDef]:
    """The catalog entries of a deployment besides the Iceberg table, tables before the view that reads them."""
    inputs = [quarantine_table_input(quarantine, bucket)]
    if curated.key is not None:
        inputs.append(unique_view_input(curated, database, time_column))
    return inputs


def retire_hive_table(glue: GlueClient, database: str, name: str) -> str | None:
    """Keep a pre-Iceberg curated table of this name as `<name>_hive` (Glue cannot rename: a copy, then
    the original removed); returns the new name, or None when there is no such table."""
    try:
        found = glue.get_table(DatabaseName=database, Name=name)["Table"]
    except glue.exceptions.EntityNotFoundException:
        return None
    parameters = found.get("Parameters", {})
    if parameters.get("table_type", "").upper() == "ICEBERG" or parameters.get(MANAGED) != "true":
        return None
    retired = f"{name}_hive"[:_NAME_CHARS]
    kept = {k: found[k] for k in ("Description", "TableType", "Parameters", "PartitionKeys") if k in found}
    copy: TableInputTypeDef = {"Name": retired, "StorageDescriptor": found["StorageDescriptor"], **kept}  # type: ignore[typeddict-item]
    put_tables(glue, database, [copy])
    glue.delete_table(DatabaseName=database, Name=name)
    logger.info("kept the Hive-style table", extra={"table": name, "now": retired})
    return retired


def put_tables(glue: GlueClient, database: str, inputs: list[TableInputTypeDef]) -> None:
    """Create each entry, or replace it as it is declared now (in order: a view after its table)."""
    for table_input in inputs:
        try:
            glue.create_table(DatabaseName=database, TableInput=table_input)
        except glue.exceptions.AlreadyExistsException:
            glue.update_table(DatabaseName=database, TableInput=table_input)


def delete_tables(glue: GlueClient, database: str, names: list[str]) -> None:
    """Remove the entries (the files stay); entries already gone are fine."""
    for name in names:
        try:
            glue.delete_table(DatabaseName=database, Name=name)
        except glue.exceptions.EntityNotFoundException:
            continue


class CatalogResource:
    """The custom resource that keeps a deployment's catalog entries as its job declares them: created
    with the stack, replaced on every update (a new job or new code may change columns; entries of a
    previous job are removed), removed with the stack. Entries are marked, so only its own are touched."""

    PREFIX = "landfall-catalog"

    def __init__(
        self,
        glue: GlueClient,
        curated: CuratedEntry,
        quarantine: TableSchema,
        sleep: Callable[[float], None] = time.sleep,
        permission_waits: tuple[float, ...] = PERMISSION_WAITS_S,
    ) -> None:
        self.glue, self.curated, self.quarantine = glue, curated, quarantine
        self.sleep, self.permission_waits = sleep, permission_waits

    def handle(self, request: CustomResourceRequest) -> CustomResourceResponse:
        if request.resource_type == NAME_RESOURCE:
            return name_response(request)
        database = str(request.properties["DatabaseName"])
        try:
            return self._once_permitted(lambda: self._handle(request, database))
        except self.glue.exceptions.AccessDeniedException as error:
            # Glue's own code for both; only the message tells Lake Formation's refusal from IAM's
            if "Lake Formation" in error.response["Error"].get("Message", ""):
                raise LakeFormationDenied(database, error) from error
            raise

    def _once_permitted(self, operation: Callable[[], CustomResourceResponse]) -> CustomResourceResponse:
        """`operation`, run again after a wait while access is denied (permissions new to IAM or Lake
        Formation take seconds to apply); the last denial is raised."""
        for wait in self.permission_waits:
            try:
                return operation()
            except self.glue.exceptions.AccessDeniedException:
                logger.warning("Glue denied access: waiting for new permissions to apply", extra={"wait_s": wait})
                self.sleep(wait)
        return operation()

    def _handle(self, request: CustomResourceRequest, database: str) -> CustomResourceResponse:
        bucket = str(request.properties["Bucket"])
        if request.request_type == "Delete":
            self.delete(request.physical_resource_id)
            return CustomResourceResponse(status="SUCCESS", physical_resource_id=request.physical_resource_id or "none")
        data = self.put(database, bucket)
        return CustomResourceResponse(status="SUCCESS", physical_resource_id=self.physical_id(database), data=data)

    def physical_id(self, database: str) -> str:
        return f"{self.PREFIX}:{database}"

    def put(self, database: str, bucket: str) -> dict[str, str]:
        """Create or replace the entries (the Iceberg table evolved, or the deploy refused); returns
        their names as the stack's outputs give them."""
        table = self.curated.table
        retired = retire_hive_table(self.glue, database, table.name)
        self.curated.put(database, bucket)
        inputs = table_inputs(table, self.quarantine, bucket, database, self.curated.time_column)
        put_tables(self.glue, database, inputs)
        current = {table_input["Name"] for table_input in inputs} | {table.name, retired}
        delete_tables(
            self.glue, database, [name for name in managed_tables(self.glue, database) if name not in current]
        )
        return {"Table": table.name, "QuarantineTable": self.quarantine.name, "UniqueView": table.unique_view or ""}

    def delete(self, physical_id: str | None) -> None:
        prefix, _, database = (physical_id or "").partition(":")
        if prefix == self.PREFIX and database:  # else: a create that failed made nothing
            views_first = sorted(
                managed_tables(self.glue, database).items(), key=lambda item: item[1] != "VIRTUAL_VIEW"
            )
            delete_tables(self.glue, database, [name for name, _ in views_first])


def managed_tables(glue: GlueClient, database: str) -> dict[str, str]:
    """The entries this catalog made in `database` (name → table type); none if the database is gone."""
    found: dict[str, str] = {}
    try:
        for page in glue.get_paginator("get_tables").paginate(DatabaseName=database):
            for table in page["TableList"]:
                if table.get("Parameters", {}).get(MANAGED) == "true":
                    found[table["Name"]] = table.get("TableType", "")
    except glue.exceptions.EntityNotFoundException:
        pass
    return found
