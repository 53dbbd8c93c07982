"""Signing in and out with Django's auth views and the dashboard's templates."""
from django.contrib.auth.models import User


def test_signing_in_goes_back_to_the_page_asked_for(client, db):
    User.objects.create_user("ann", password="pw-for-tests")
    response = client.post("/accounts/login/", {"username": "ann", "password": "pw-for-tests", "next": "/machines/"})
    assert response.status_code == 302 and response["Location"] == "/machines/"
    assert "ann" in client.get("/").content.decode()


def test_a_wrong_password_says_so(client, db):
    User.objects.create_user("ann", password="pw-for-tests")
    response = client.post("/accounts/login/", {"username": "ann", "password": "wrong"})
    assert response.status_code == 200
    assert "do not match an account" in response.content.decode()


def test_signing_out_is_a_post_back_to_the_overview(client, db):
    client.force_login(User.objects.create_user("ann"))
    response = client.post("/accounts/logout/")
    assert response.status_code == 302 and response["Location"] == "/"
    assert "Sign in" in client.get("/").content.decode()
