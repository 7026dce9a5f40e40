"""The catalog's entries on moto's Glue: what the custom resource creates, replaces and removes, and
the response it sends CloudFormation."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest

from examples.orders_job import OrdersJob
from landfall.catalog import MANAGED, CatalogResource, location_template, unique_view_sql
from landfall.custom_resource import CustomResourceRequest, CustomResourceResponse, respond
from landfall.jobs.events import EventsJob
from landfall.quarantine import QUARANTINE_TABLE
from landfall.schema import table_of

DATABASE = "landfall_test"


@pytest.fixture
def glue(aws):
    client = boto3.client("glue", region_name="us-east-1")
    client.create_database(DatabaseInput={"Name": DATABASE})
    return client


def names(glue) -> dict[str, str]:
    return {t["Name"]: t.get("TableType", "") for t in glue.get_tables(DatabaseName=DATABASE)["TableList"]}


def request(
    kind: str, physical_id: str | None = None, url: str = "https://example.com/response"
) -> CustomResourceRequest:
    return CustomResourceRequest.model_validate({
        "RequestType": kind, "ResponseURL": url, "StackId": "arn:aws:cloudformation:us-east-1:1:stack/s/x",
        "RequestId": "r-1", "LogicalResourceId": "Catalog", "PhysicalResourceId": physical_id,
        "ResourceProperties": {"DatabaseName": DATABASE, "Bucket": "pipeline", "Job": "x", "Code": "layer:1"},
    })  # fmt: skip


def test_a_create_makes_the_table_its_view_and_the_quarantine(glue):
    events = table_of(EventsJob())
    response = CatalogResource(glue, events, QUARANTINE_TABLE).handle(request("Create"))
    assert (response.status, response.physical_resource_id) == ("SUCCESS", f"landfall-catalog:{DATABASE}")
    assert response.data == {"Table": "events", "QuarantineTable": "quarantine", "UniqueView": "events_unique"}
    assert names(glue) == {"events": "EXTERNAL_TABLE", "quarantine": "EXTERNAL_TABLE", "events_unique": "VIRTUAL_VIEW"}
    table = glue.get_table(DatabaseName=DATABASE, Name="events")["Table"]
    assert table["Parameters"]["storage.location.template"] == location_template(events, "pipeline")
    assert location_template(events, "pipeline") == "s3://pipeline/curated/events/dt=${dt}/hour=${hour}/"
    assert table["Parameters"]["projection.hour.range"] == "0,23" and table["Parameters"][MANAGED] == "true"
    view = glue.get_table(DatabaseName=DATABASE, Name="events_unique")["Table"]
    definition = json.loads(base64.b64decode(view["ViewOriginalText"][len("/* Presto View: ") : -len(" */")]))
    assert definition["originalSql"] == unique_view_sql(events)
    assert [c["type"] for c in definition["columns"]][:2] == ["varchar", "timestamp(3)"]


def test_an_update_to_another_job_replaces_the_entries_and_leaves_others_alone(glue):
    glue.create_table(DatabaseName=DATABASE, TableInput={"Name": "someone_elses"})
    CatalogResource(glue, table_of(EventsJob()), QUARANTINE_TABLE).handle(request("Create"))
    orders = CatalogResource(glue, table_of(OrdersJob()), QUARANTINE_TABLE)
    response = orders.handle(request("Update", f"landfall-catalog:{DATABASE}"))
    assert response.physical_resource_id == f"landfall-catalog:{DATABASE}"  # the same resource: no delete follows
    assert set(names(glue)) == {"orders", "orders_unique", "quarantine", "someone_elses"}
    columns = glue.get_table(DatabaseName=DATABASE, Name="orders")["Table"]["StorageDescriptor"]["Columns"]
    assert [c["Name"] for c in columns][:4] == ["order_id", "ts", "amount", "currency"]
    orders.handle(request("Delete", response.physical_resource_id))
    assert set(names(glue)) == {"someone_elses"}


def test_a_delete_after_a_failed_create_touches_nothing(glue):
    CatalogResource(glue, table_of(EventsJob()), QUARANTINE_TABLE).handle(request("Create"))
    CatalogResource(glue, table_of(EventsJob()), QUARANTINE_TABLE).handle(request("Delete", "landfall-catalog-failed"))
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
    assert received == [{
        "Status": "FAILED", "Reason": "no database x", "PhysicalResourceId": "p",
        "StackId": "arn:aws:cloudformation:us-east-1:1:stack/s/x", "RequestId": "r-1",
        "LogicalResourceId": "Catalog", "Data": {},
    }]  # fmt: skip


def test_a_response_goes_only_where_cloudformation_would_send_it():
    with pytest.raises(ValueError, match="not a response URL"):
        respond(
            request("Create", url="http://169.254.169.254/latest"),
            CustomResourceResponse(status="SUCCESS", physical_resource_id="p"),
        )
