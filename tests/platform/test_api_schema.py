"""The OpenAPI schema generates and validates with warnings as errors."""
from django.contrib.auth.models import User
from django.core.management import call_command

from core.openapi import NO_NUL
from regressions.models import AlertSummary
from results.models import Project


def test_the_api_schema_generates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    assert "/api/v1/runs/" in text and "/api/v1/runs/{id}/" in text and "agentToken" in text


def test_every_request_for_the_schema_gets_the_same_document(client, db):
    """The postprocessing hooks edit the document in place (postprocess_schema_enums
    moves enums into components): what a cache or a class keeps must not be
    edited with it, or the second document refers to enums it lacks and the
    run report's body cannot be resolved (schemathesis then sent no body)."""
    first, second = (client.get("/api/schema/?format=json").json() for _ in range(2))
    assert first == second
    assert "ReportSchemaEnum" in second["components"]["schemas"]


def test_a_request_body_is_required_where_its_schema_needs_a_key(client, db):
    """A missing body is read as {}: required wherever {} is refused (a required
    key, or one in every branch of a oneOf/anyOf rule), optional elsewhere."""
    paths = client.get("/api/schema/?format=json").json()["paths"]

    def required(path, method):
        return paths[path][method]["requestBody"].get("required", False)

    assert required("/api/v1/runs/", "post")  # required keys
    assert required("/api/v1/alerts/summaries/{id}/", "patch")  # anyOf: status or notes
    assert required("/api/v1/alerts/{id}/", "patch")  # oneOf: status or summary
    assert required("/api/v1/detection-policies/", "post")  # anyOf: benchmark or project
    assert not required("/api/v1/detection-policies/{id}/", "patch")  # the stored policy fills in
    assert not required("/api/v1/jobs/claim", "post")  # every key optional


def test_free_text_in_a_request_body_states_that_it_takes_no_nul(client, db):
    """DRF's CharField refuses a NUL with a 400, so the schema says so (a pattern)
    on every request string without a pattern, enum or format, nested ones
    included; else a generated NUL is valid by the schema and its 400 a lie."""
    schemas = client.get("/api/schema/?format=json").json()["components"]["schemas"]
    assert schemas["PatchedSummaryTriageRequest"]["properties"]["notes"]["pattern"] == NO_NUL
    assert schemas["CompleteRequest"]["properties"]["error"]["pattern"] == NO_NUL
    assert schemas["CommitEntryRequest"]["properties"]["subject"]["pattern"] == NO_NUL  # reached through a $ref
    assert "pattern" not in schemas["AlertSummary"]["properties"]["notes"]  # answers are not requests

    client.force_login(User.objects.create_user("ana"))
    summary = AlertSummary.objects.create(key="k", project=Project.objects.create(name="p"), classification="")
    response = client.patch(f"/api/v1/alerts/summaries/{summary.pk}/", {"notes": "a\x00b"},
                            content_type="application/json")
    assert response.status_code == 400 and "notes" in response.json()["errors"], response.content
