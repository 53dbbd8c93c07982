"""Validation errors flatten to field paths; other errors keep {"detail": ...}."""
from rest_framework.exceptions import ErrorDetail

from core.errors import flatten_errors


def test_it_flattens_nested_serializer_errors_to_paths():
    detail = {
        "schema": [ErrorDetail("bad")],
        "machine": {"cores": [ErrorDetail("Expected an integer, got string.")]},
        "layers": [{}, {"time": {"median": [ErrorDetail("neg")], "non_field_errors": [ErrorDetail("order")]}}],
        "config": {"passes": {2: [ErrorDetail("too long")]}},
    }
    assert flatten_errors(detail) == {
        "schema": ["bad"],
        "machine.cores": ["Expected an integer, got string."],
        "layers[1].time.median": ["neg"],
        "layers[1].time": ["order"],
        "config.passes[2]": ["too long"],
    }


def test_it_puts_top_level_object_errors_under_non_field_errors():
    assert flatten_errors({"non_field_errors": ["whole body"]}) == {"non_field_errors": ["whole body"]}
    assert flatten_errors(["a plain message"]) == {"non_field_errors": ["a plain message"]}


def test_other_api_errors_keep_a_detail_message(client, db):
    response = client.post("/api/v1/runs/1/", {}, content_type="application/json")
    assert response.status_code == 405
    assert set(response.json()) == {"detail"}


def test_a_non_json_content_type_is_refused_with_415(client, token):
    response = client.post("/api/v1/runs/", "a=1", content_type="text/plain", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 415
    assert "text/plain" in response.json()["detail"]
