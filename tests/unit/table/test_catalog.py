"""The catalog's entries on moto's Glue: what the custom resource creates, replaces and removes, and
the response it sends CloudFormation."""

from __future__ import annotations

import base64
import json
import re
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import msgspec
import pytest
from botocore.stub import Stubber

from examples.orders_job import OrdersJob
from landfall.commit.catalog import TableCatalog
from landfall.commit.tables import IcebergEntry, SchemaChangeRefused
from landfall.core.custom_resource import CustomResourceRequest, CustomResourceResponse, respond
from landfall.jobs.events import EventsJob
from landfall.table.catalog import (
    MANAGED,
    NAME_RESOURCE,
    CatalogResource,
    LakeFormationDenied,
    database_name,
    unique_view_sql,
)
from landfall.table.quarantine import QUARANTINE_TABLE
from landfall.table.schema import table_of

DATABASE = "landfall_test"


@pytest.fixture
def glue(aws):
    client = boto3.client("glue", region_name="us-east-1")
    client.create_database(DatabaseInput={"Name": DATABASE})
    return client


class _NoTable:
    """A curated entry that makes nothing: for tests of the resource's own Glue calls."""

    def __init__(self, table) -> None:
        self.table, self.time_column = table, "ts"

    def put(self, database: str, bucket: str) -> None:
        pass


def iceberg(glue, job) -> IcebergEntry:
    s3 = boto3.client("s3", region_name="us-east-1")
    if "pipeline" not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket="pipeline")
    return IcebergEntry(TableCatalog(glue, s3), table_of(job))


def names(glue) -> dict[str, str]:
    return {t["Name"]: t.get("TableType", "") for t in glue.get_tables(DatabaseName=DATABASE)["TableList"]}


def request(
    kind: str, physical_id: str | None = None, url: str = "https://example.com/response", database: str = DATABASE
) -> CustomResourceRequest:
    return CustomResourceRequest.model_validate(
        {
            "RequestType": kind,
            "ResponseURL": url,
            "StackId": "arn:aws:cloudformation:us-east-1:1:stack/s/x",
            "RequestId": "r-1",
            "LogicalResourceId": "Catalog",
            "PhysicalResourceId": physical_id,
            "ResourceType": "Custom::Catalog",
            "ResourceProperties": {"DatabaseName": database, "Bucket": "pipeline", "Job": "x", "Code": "layer:1"},
        }
    )


ATHENA_NAME = re.compile(r"[a-z][a-z0-9_]{0,254}")  # what Athena takes unquoted, within Glue's 255 characters


@pytest.mark.parametrize(
    ("stack", "database"),
    [
        ("Landfall-Prod", "landfall_prod"),
        ("landfall", "landfall"),
        ("landfall-local", "landfall_local"),
        ("MyPipeline-EU-2", "mypipeline_eu_2"),
        ("9-lives", "landfall_9_lives"),  # no stack name starts so, but a name must not either
        ("Ünïcode stack.v2", "landfall__n_code_stack_v2"),  # nor any other character
        ("A" * 128, "a" * 128),  # CloudFormation's longest stack name
        ("B-" * 200, ("b_" * 200)[:255]),
    ],
)
def test_a_stack_name_folds_to_a_database_name_athena_takes(stack, database):
    assert database_name(stack) == database
    assert ATHENA_NAME.fullmatch(database_name(stack))


def test_the_name_resource_answers_the_folded_name_and_makes_nothing(aws):
    glue = boto3.client("glue", region_name="us-east-1")
    with Stubber(glue):  # no Glue call is stubbed: any would fail
        for kind in ("Create", "Update", "Delete"):
            named = CustomResourceRequest.model_validate(
                {
                    "RequestType": kind,
                    "ResponseURL": "https://example.com/r",
                    "StackId": "s",
                    "RequestId": "r",
                    "LogicalResourceId": "CatalogName",
                    "ResourceType": NAME_RESOURCE,
                    "PhysicalResourceId": None if kind == "Create" else "landfall-catalog-name:landfall_prod",
                    "ResourceProperties": {"StackName": "Landfall-Prod"},
                }
            )
            response = CatalogResource(glue, table_of(EventsJob()), QUARANTINE_TABLE).handle(named)
            assert (response.status, response.data) == ("SUCCESS", {"Database": "landfall_prod"})
            assert response.physical_resource_id == "landfall-catalog-name:landfall_prod"


def _denied(stubber: Stubber, message: str) -> None:
    stubber.add_client_error("get_table", "AccessDeniedException", message, 400)


LAKE_FORMATION = "Insufficient Lake Formation permission(s): Required Create Table on landfall_prod"


def test_a_lake_formation_refusal_says_so_in_one_line_after_waiting_for_new_grants(aws):
    glue, waits = boto3.client("glue", region_name="us-east-1"), []
    resource = CatalogResource(glue, _NoTable(table_of(EventsJob())), QUARANTINE_TABLE, waits.append, (1.0, 2.0))
    with Stubber(glue) as stubber:
        for _ in range(3):  # the first try and one after each wait
            _denied(stubber, LAKE_FORMATION)
        with pytest.raises(LakeFormationDenied) as raised:
            resource.handle(request("Create", database="landfall_prod"))
        stubber.assert_no_pending_responses()
    reason = str(raised.value)
    assert waits == [1.0, 2.0] and "\n" not in reason
    assert reason.startswith("Lake Formation denied the catalog function's role on database landfall_prod")
    assert LAKE_FORMATION in reason and "UseLakeFormation=true" in reason and "CREATE_TABLE" in reason


def test_a_refusal_by_iam_alone_stays_iams_and_passes_once_the_policy_applies(aws):
    glue, waits = boto3.client("glue", region_name="us-east-1"), []
    resource = CatalogResource(glue, _NoTable(table_of(EventsJob())), QUARANTINE_TABLE, waits.append, (1.0,))
    iam = "User: arn:aws:sts::1:assumed-role/r/f is not authorized to perform: glue:CreateTable"
    with Stubber(glue) as stubber:
        _denied(stubber, iam)
        _denied(stubber, iam)
        with pytest.raises(glue.exceptions.AccessDeniedException, match="not authorized"):
            resource.handle(request("Create"))
        _denied(stubber, iam)  # the policy applies after the first wait
        stubber.add_client_error("get_table", "EntityNotFoundException", "no table before Iceberg", 400)
        for _ in range(2):  # the quarantine, the view (the Iceberg table is its entry's)
            stubber.add_response("create_table", {})
        stubber.add_response("get_tables", {"TableList": []})
        assert resource.handle(request("Create")).status == "SUCCESS"
        stubber.assert_no_pending_responses()
    assert waits == [1.0, 1.0]


def test_a_create_makes_the_iceberg_table_its_view_and_the_quarantine(glue):
    events = table_of(EventsJob())
    response = CatalogResource(glue, iceberg(glue, EventsJob()), QUARANTINE_TABLE).handle(request("Create"))
    assert (response.status, response.physical_resource_id) == ("SUCCESS", f"landfall-catalog:{DATABASE}")
    assert response.data == {"Table": "events", "QuarantineTable": "quarantine", "UniqueView": "events_unique"}
    assert names(glue) == {"events": "EXTERNAL_TABLE", "quarantine": "EXTERNAL_TABLE", "events_unique": "VIRTUAL_VIEW"}
    table = glue.get_table(DatabaseName=DATABASE, Name="events")["Table"]
    assert table["Parameters"]["table_type"] == "ICEBERG" and table["Parameters"][MANAGED] == "true"
    assert table["Parameters"]["metadata_location"].startswith("s3://pipeline/curated/events/metadata/")
    view = glue.get_table(DatabaseName=DATABASE, Name="events_unique")["Table"]
    definition = json.loads(base64.b64decode(view["ViewOriginalText"][len("/* Presto View: ") : -len(" */")]))
    assert definition["originalSql"] == unique_view_sql(events, "ts")
    assert 'PARTITION BY date_trunc(\'hour\', "ts"), "event_id"' in definition["originalSql"]
    assert [c["type"] for c in definition["columns"]][:2] == ["varchar", "timestamp(3)"]


def test_an_update_to_another_job_replaces_the_entries_and_leaves_others_alone(glue):
    glue.create_table(DatabaseName=DATABASE, TableInput={"Name": "someone_elses"})
    CatalogResource(glue, iceberg(glue, EventsJob()), QUARANTINE_TABLE).handle(request("Create"))
    orders = CatalogResource(glue, iceberg(glue, OrdersJob()), QUARANTINE_TABLE)
    response = orders.handle(request("Update", f"landfall-catalog:{DATABASE}"))
    assert response.physical_resource_id == f"landfall-catalog:{DATABASE}"  # the same resource: no delete follows
    assert set(names(glue)) == {"orders", "orders_unique", "quarantine", "someone_elses"}
    columns = glue.get_table(DatabaseName=DATABASE, Name="orders")["Table"]["StorageDescriptor"]["Columns"]
    assert [c["Name"] for c in columns][:4] == ["order_id", "ts", "amount", "currency"]
    orders.handle(request("Delete", response.physical_resource_id))
    assert set(names(glue)) == {"someone_elses"}


def test_a_hive_table_from_before_iceberg_is_kept_as_table_hive(glue):
    hive = {
        "Name": "events",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {MANAGED: "true", "classification": "parquet"},
    }
    glue.create_table(
        DatabaseName=DATABASE, TableInput={**hive, "StorageDescriptor": {"Location": "s3://pipeline/curated/events/"}}
    )
    CatalogResource(glue, iceberg(glue, EventsJob()), QUARANTINE_TABLE).handle(
        request("Update", f"landfall-catalog:{DATABASE}")
    )
    kept = glue.get_table(DatabaseName=DATABASE, Name="events_hive")["Table"]
    assert (
        kept["StorageDescriptor"]["Location"] == "s3://pipeline/curated/events/"
        and kept["Parameters"][MANAGED] == "true"
    )
    assert glue.get_table(DatabaseName=DATABASE, Name="events")["Table"]["Parameters"]["table_type"] == "ICEBERG"


def test_a_job_that_drops_a_column_fails_the_deploy_in_one_line_and_changes_nothing(glue):
    CatalogResource(glue, iceberg(glue, OrdersJob()), QUARANTINE_TABLE).handle(request("Create"))
    before = glue.get_table(DatabaseName=DATABASE, Name="orders")["Table"]["Parameters"]["metadata_location"]

    class Fewer(OrdersJob):
        record_type = msgspec.defstruct("Order", [("order_id", str), ("ts", datetime)])

    with pytest.raises(SchemaChangeRefused) as refused:
        CatalogResource(glue, iceberg(glue, Fewer()), QUARANTINE_TABLE).handle(
            request("Update", f"landfall-catalog:{DATABASE}")
        )
    assert "\n" not in str(refused.value) and "column amount would be dropped or renamed" in str(refused.value)
    assert glue.get_table(DatabaseName=DATABASE, Name="orders")["Table"]["Parameters"]["metadata_location"] == before


def test_a_delete_after_a_failed_create_touches_nothing(glue):
    CatalogResource(glue, iceberg(glue, EventsJob()), QUARANTINE_TABLE).handle(request("Create"))
    CatalogResource(glue, iceberg(glue, EventsJob()), QUARANTINE_TABLE).handle(
        request("Delete", "landfall-catalog-failed")
    )
    assert len(names(glue)) == 3


@pytest.fixture
def cloudformation():
    """CloudFormation's end of the response: a server on 127.0.0.1 that keeps what is PUT to it."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:  # noqa: N802 - the standard library's name
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/response?signed", received
    server.shutdown()
    server.server_close()


def test_the_response_reaches_cloudformation_with_the_ids_it_needs(cloudformation):
    url, received = cloudformation
    response = CustomResourceResponse(status="FAILED", physical_resource_id="p", reason="no database x")
    respond(request("Create", url=url), response)
    assert received == [
        {
            "Status": "FAILED",
            "Reason": "no database x",
            "PhysicalResourceId": "p",
            "StackId": "arn:aws:cloudformation:us-east-1:1:stack/s/x",
            "RequestId": "r-1",
            "LogicalResourceId": "Catalog",
            "Data": {},
        }
    ]


def test_a_response_goes_only_where_cloudformation_would_send_it():
    with pytest.raises(ValueError, match="not a response URL"):
        respond(
            request("Create", url="http://169.254.169.254/latest"),
            CustomResourceResponse(status="SUCCESS", physical_resource_id="p"),
        )
