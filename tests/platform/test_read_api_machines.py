"""GET /api/v1/machines/ and /api/v1/machines/<name>/ show the fleet, never a token hash."""
from fleet.models import Machine
from tests.report_factory import make_report


def test_it_lists_machines_by_name(client, db):
    for name in ("zeta", "alpha", "mid"):
        Machine.objects.create(name=name)
    body = client.get("/api/v1/machines/").json()
    assert body["count"] == 3
    assert [m["name"] for m in body["results"]] == ["alpha", "mid", "zeta"]


def test_it_shows_the_hardware_a_report_recorded(client, upload, django_user_model):
    report = make_report(started_at="2025-05-01T00:00:00+00:00")
    assert upload(report).status_code == 201
    client.force_login(django_user_model.objects.create_user("ops"))  # the fingerprint is for users only
    body = client.get("/api/v1/machines/m1/").json()
    for field in ("fingerprint", "hostname", "cpu_model", "cores", "memory_bytes", "peak_gflops", "peak_gbs"):
        assert body[field] == report["machine"][field], field
    assert body["ridge_point"] == report["machine"]["peak_gflops"] / report["machine"]["peak_gbs"]
    assert body["enabled"] is True and body["has_token"] is True and body["last_seen"]


def test_it_never_shows_token_hashes(client, machine, token):
    listed = client.get("/api/v1/machines/").content.decode()
    detail = client.get("/api/v1/machines/m1/").content.decode()
    stored_hash = Machine.objects.get(pk=machine.pk).token_hash
    for text in (listed, detail):
        assert stored_hash not in text and token not in text and "token_hash" not in text


def test_it_shows_a_revoked_machine_without_a_token(client, machine, token):
    machine.revoke_token()
    assert client.get("/api/v1/machines/m1/").json()["has_token"] is False


def test_it_answers_404_for_an_unknown_machine(client, db):
    response = client.get("/api/v1/machines/nobody/")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_it_finds_machines_whose_names_hold_dots(client, db):
    Machine.objects.create(name="gpu-box.rack7")
    assert client.get("/api/v1/machines/gpu-box.rack7/").json()["name"] == "gpu-box.rack7"


def test_it_refuses_an_offset_past_any_page_and_clamps_a_huge_limit(client, db):
    Machine.objects.create(name="only")
    response = client.get("/api/v1/machines/?offset=" + "9" * 30)
    assert response.status_code == 400
    assert response.json()["errors"] == {"offset": [f"Expected a whole number from 0 to 1000000000; got '{'9' * 30}'."]}
    body = client.get("/api/v1/machines/?limit=" + "9" * 30).json()
    assert [m["name"] for m in body["results"]] == ["only"]


def test_the_fingerprint_is_shown_only_to_signed_in_users(client, upload, token, django_user_model):
    assert upload(make_report(fingerprint="fp-secret", machine={"hostname": "box"})).status_code == 201
    anonymous = [client.get("/api/v1/machines/m1/").json(), client.get("/api/v1/machines/").json()["results"][0]]
    as_machine = client.get("/api/v1/machines/m1/", HTTP_AUTHORIZATION=f"Token {token}").json()
    assert [body["fingerprint"] for body in (*anonymous, as_machine)] == [None, None, None]
    page = client.get("/machines/m1/")
    assert page.status_code == 200 and "fp-secret" not in page.content.decode()
    client.force_login(django_user_model.objects.create_user("ops"))
    assert client.get("/api/v1/machines/m1/").json()["fingerprint"] == "fp-secret"
    assert "fp-secre" in client.get("/machines/m1/").content.decode()
