"""Bodies over ROOFWATCH_MAX_REPORT_BYTES are refused with 413, unread and unwritten."""
import io
import json

import pytest
from rest_framework.exceptions import ParseError

from core.errors import PayloadTooLarge
from results.report_parser import ReportBodyParser, check_content_length
from tests.report_factory import make_report

from .conftest import row_counts


def test_it_refuses_a_body_over_the_limit_with_413(upload, settings):
    body = json.dumps(make_report())
    settings.ROOFWATCH_MAX_REPORT_BYTES = len(body) - 1
    response = upload(body)
    assert response.status_code == 413
    assert f"of {len(body)} bytes exceeds the limit of {len(body) - 1} bytes" in response.json()["detail"]
    assert row_counts() == {"Project": 0, "Benchmark": 0, "Run": 0, "LayerMeasurement": 0}


def test_it_accepts_a_body_of_exactly_the_limit(upload, settings):
    body = json.dumps(make_report())
    settings.ROOFWATCH_MAX_REPORT_BYTES = len(body)
    assert upload(body).status_code == 201


def test_it_authenticates_before_it_looks_at_the_size(upload, settings):
    settings.ROOFWATCH_MAX_REPORT_BYTES = 10
    assert upload(make_report(), token="rw_wrong").status_code == 401


def test_the_parser_stops_reading_at_the_limit_when_the_length_was_not_declared(settings):
    settings.ROOFWATCH_MAX_REPORT_BYTES = 100
    stream = io.BytesIO(b'{"x": "' + b"a" * 1000 + b'"}')
    with pytest.raises(PayloadTooLarge):
        ReportBodyParser().parse(stream, "application/json", {})
    assert stream.tell() == 101


def test_it_rejects_a_content_length_that_is_not_a_number():
    with pytest.raises(ParseError, match="Content-Length 'lots' is not an integer"):
        check_content_length({"CONTENT_LENGTH": "lots"})
