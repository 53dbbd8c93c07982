import io
import json
import logging

from agents import LOGGER_NAME, logs


def test_text_logs_are_key_value_lines_and_plain_messages_are_quoted():
    out = io.StringIO()
    logs.setup("text", stream=out)
    log = logging.getLogger(LOGGER_NAME)
    log.info("event=job_claimed job=%d model=%s", 3, "mlp")
    log.warning("upload failed: %s", "refused")
    first, second = out.getvalue().splitlines()
    assert first.startswith("ts=") and first.endswith("level=info event=job_claimed job=3 model=mlp")
    assert second.endswith('level=warning msg="upload failed: refused"')


def test_json_logs_split_the_pairs_into_fields():
    out = io.StringIO()
    logs.setup("json", stream=out)
    logging.getLogger(LOGGER_NAME).error("event=job_failed job=%d error=%r", 4, "exit code 3: boom")
    doc = json.loads(out.getvalue())
    assert doc["level"] == "error" and doc["event"] == "job_failed" and doc["job"] == "4"
    assert doc["error"] == "exit code 3: boom"


def test_no_progress_bar_when_not_on_a_terminal():
    bar = logs.Progress(3, "runs", enabled=logs.interactive(io.StringIO()))
    assert bar._bar is None
    bar.step("x")
    bar.advance()
    bar.close()
