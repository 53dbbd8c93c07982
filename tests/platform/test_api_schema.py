"""The OpenAPI schema generates and validates with warnings as errors."""
from django.core.management import call_command


def test_the_api_schema_generates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    assert "/api/v1/runs/" in text and "/api/v1/runs/{id}/" in text and "agentToken" in text
