"""The jobs endpoints are in the OpenAPI schema with the agent token, their
bodies and their answers (204 for nothing to claim, 409 for a lost lease)."""
import yaml
from django.core.management import call_command


def test_the_schema_describes_the_jobs_api(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(out))
    paths = yaml.safe_load(out.read_text())["paths"]
    claim = paths["/api/v1/jobs/claim"]["post"]
    assert set(claim["responses"]) >= {"200", "204", "400", "401"}
    assert claim["security"] == [{"agentToken": []}]
    assert set(paths["/api/v1/jobs/{id}/heartbeat"]["post"]["responses"]) >= {"200", "404", "409"}
    assert set(paths["/api/v1/jobs/{id}/complete"]["post"]["responses"]) >= {"200", "400", "404", "409"}
    assert "get" in paths["/api/v1/jobs/"] and "get" in paths["/api/v1/jobs/{id}/"]
