from pathlib import Path

import pytest

VENDOR = Path(__file__).resolve().parents[2] / "platform" / "dashboard" / "static" / "vendor"
CHART_JS = "vendor/chart.js/chart.umd.min.js"


def served(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.django_db
def test_the_vendored_chart_js_is_served_at_its_static_url(client):
    response = client.get("/static/" + CHART_JS)

    assert response.status_code == 200
    assert "javascript" in response["Content-Type"]
    body = served(response)
    assert body.startswith(b"/*!\n * Chart.js v4.")
    assert body == (VENDOR.parent / CHART_JS).read_bytes()


@pytest.mark.django_db
def test_the_run_page_script_and_styles_are_served(client):
    assert client.get("/static/dashboard/run.js").status_code == 200
    assert client.get("/static/dashboard/dashboard.css").status_code == 200


def test_versions_md_names_every_vendored_build_with_version_and_licence():
    versions = (VENDOR / "VERSIONS.md").read_text()
    for package, build in [
        ("chart.js", "chart.umd.min.js"),
        ("chartjs-plugin-zoom", "chartjs-plugin-zoom.min.js"),
        ("hammerjs", "hammer.min.js"),
        ("chartjs-plugin-annotation", "chartjs-plugin-annotation.min.js"),
        ("chartjs-adapter-date-fns", "chartjs-adapter-date-fns.bundle.min.js"),
    ]:
        line = next((ln for ln in versions.splitlines() if ln.startswith(f"| {package} |")), None)
        assert line, f"VERSIONS.md has no row for {package}"
        assert f"`vendor/{package}/{build}`" in line
        assert "MIT" in line
        assert (VENDOR / package / build).is_file()
        assert (VENDOR / package / "LICENSE.md").is_file()


def test_versions_md_pins_the_chart_js_version_the_file_carries():
    versions = (VENDOR / "VERSIONS.md").read_text()
    row = next(ln for ln in versions.splitlines() if ln.startswith("| chart.js |"))
    version = row.split("|")[2].strip()
    assert version.startswith("4.")
    assert f"Chart.js v{version}".encode() in (VENDOR / "chart.js" / "chart.umd.min.js").read_bytes()[:200]
