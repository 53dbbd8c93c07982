import pytest
from django.db import DatabaseError

from dashboard import views


@pytest.mark.django_db
def test_it_answers_ok_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


class UnreachableDatabase:
    def cursor(self):
        raise DatabaseError("connection refused")


@pytest.mark.django_db
def test_it_answers_503_when_the_database_does_not(client, monkeypatch):
    monkeypatch.setattr(views, "connection", UnreachableDatabase())
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unreachable"}
