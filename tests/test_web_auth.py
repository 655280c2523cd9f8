"""Tests for stationmap.web.auth: sign-in, sessions, CSRF, API tokens and the login page, on both backends."""

from __future__ import annotations

import re

import pytest

from stationmap import accounts
from stationmap.accounts import ScryptCost
from stationmap.config import Settings
from stationmap.web.app import create_app

CHEAP = ScryptCost(n=16, r=1, p=1)  # tests only
PASSWORD = "correct horse 42"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def app(database_url):
    app = create_app(Settings(database_url=database_url))
    app.config["TESTING"] = True
    yield app
    app.extensions["stationmap_store"].close()


@pytest.fixture
def store(app):
    return app.extensions["stationmap_store"]


@pytest.fixture
def client(app):
    return app.test_client()


def _add(store, name="amy", role="editor", districts=("610111",), password=PASSWORD):
    return accounts.add_user(store, name, role, districts, password, cost=CHEAP)


def _login(client, name="amy", password=PASSWORD, **kwargs):
    return client.post("/api/login", json={"name": name, "password": password}, **kwargs)


def _error(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["ok"] is False and body["status"] == status and body["error"]
    return body["error"]


def test_me_anonymous(client):
    response = client.get("/api/me")
    assert response.status_code == 200
    assert response.get_json() == {"ok": True, "user": None}
    assert "no-store" in response.headers["Cache-Control"]
    assert "Set-Cookie" not in response.headers


def test_login_me_logout(client, store):
    _add(store)
    response = _login(client)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["ok"] is True and body["user"] == "amy" and body["role"] == "editor"
    assert body["districts"] == ["610111"] and len(body["csrf_token"]) >= 32
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("stationmap_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    assert "Secure" not in cookie  # plain http
    me = client.get("/api/me").get_json()
    assert me["user"] == "amy" and me["csrf_token"] == body["csrf_token"]
    assert "stationmap_session" not in client.get("/api/me").headers.get("Set-Cookie", "")  # fixed lifetime
    assert "CSRF" in _error(client.post("/api/logout"), 403)
    assert "CSRF" in _error(client.post("/api/logout", headers={"X-CSRF-Token": "forged"}), 403)
    assert client.get("/api/me").get_json()["user"] == "amy"  # refused logout changed nothing
    out = client.post("/api/logout", headers={"X-CSRF-Token": body["csrf_token"]})
    assert out.status_code == 200 and out.get_json() == {"ok": True, "user": None}
    assert client.get("/api/me").get_json()["user"] is None


def test_cookie_is_secure_over_https(client, store):
    _add(store)
    response = _login(client, base_url="https://localhost")
    assert response.status_code == 200
    assert "Secure" in response.headers["Set-Cookie"]


def test_cookie_secure_setting(database_url, tmp_path):
    app = create_app(Settings(database_url=database_url, cookie_secure="always",
                              session_secret="s" * 40))
    _add(app.extensions["stationmap_store"])
    assert "Secure" in _login(app.test_client()).headers["Set-Cookie"]
    assert app.secret_key == "s" * 40
    app.extensions["stationmap_store"].close()


def test_bad_settings_refused(database_url):
    from stationmap.errors import BadRequestError

    with pytest.raises(BadRequestError, match="cookie_secure"):
        create_app(Settings(database_url=database_url, cookie_secure="sometimes"))
    with pytest.raises(BadRequestError, match="32"):
        create_app(Settings(database_url=database_url, session_secret="short"))


def test_session_secret_shared_by_processes(app, database_url, store):
    _add(store)
    first = app.test_client()
    assert _login(first).status_code == 200
    other = create_app(Settings(database_url=database_url))  # another worker process on the same register
    assert other.secret_key == app.secret_key == store.get_meta("session_secret")
    client = other.test_client()
    client.set_cookie("stationmap_session", first.get_cookie("stationmap_session").value)
    assert client.get("/api/me").get_json()["user"] == "amy"
    other.extensions["stationmap_store"].close()


def test_wrong_password_then_429_with_retry_after(client, store):
    _add(store)
    for _ in range(5):
        assert "Wrong account name or password" in _error(_login(client, password="wrong password 1"), 401)
    response = _login(client)
    _error(response, 429)
    assert 1 <= int(response.headers["Retry-After"]) <= 900


def test_login_needs_json_and_same_origin(client, store):
    _add(store)
    form = client.post("/api/login", data={"name": "amy", "password": PASSWORD})
    assert "JSON" in _error(form, 400)
    plain = client.post("/api/login", data='{"name": "amy", "password": "x"}', content_type="text/plain")
    _error(plain, 400)
    assert "another site" in _error(_login(client, headers={"Origin": "https://evil.example"}), 403)
    _error(_login(client, headers={"Referer": "https://evil.example/page"}), 403)
    _error(_login(client, headers={"Origin": "null"}), 403)
    assert _login(client, headers={"Origin": "http://localhost"}).status_code == 200
    _error(client.post("/api/login", json={"name": "amy"}), 400)
    _error(client.post("/api/login", json=["amy", PASSWORD]), 400)


def test_bearer_token_needs_no_csrf(client, store):
    _add(store, password=None)
    token = accounts.create_token(store, "amy", "script")
    auth = {"Authorization": f"Bearer {token}"}
    me = client.get("/api/me", headers=auth).get_json()
    assert me["user"] == "amy" and me["csrf_token"] is None
    assert client.post("/api/logout", headers=auth).status_code == 200
    accounts.revoke_tokens(store, "amy")
    assert "revoked" in _error(client.get("/api/me", headers=auth), 401)


@pytest.mark.parametrize("header", ["Bearer smt_nonsense", "Bearer", "Basic YW15OnB3", "Bearer not-ours"])
def test_invalid_authorization_is_401_never_anonymous(client, store, header):
    _error(client.get("/api/me", headers={"Authorization": header}), 401)
    _error(client.post("/api/logout", headers={"Authorization": header}), 401)


def test_disabled_user(client, store):
    _add(store)
    token = accounts.create_token(store, "amy")
    assert _login(client).status_code == 200
    accounts.disable_user(store, "amy")
    assert client.get("/api/me").get_json()["user"] is None  # the session ended
    assert "disabled" in _error(client.get("/api/me", headers={"Authorization": f"Bearer {token}"}), 401)
    assert "disabled" in _error(_login(client), 403)


def test_password_change_ends_sessions(client, store):
    _add(store)
    assert _login(client).status_code == 200
    accounts.set_password(store, "amy", "brand new pass 5", cost=CHEAP)
    assert client.get("/api/me").get_json()["user"] is None
    assert _login(client, password="brand new pass 5").status_code == 200
    assert client.get("/api/me").get_json()["user"] == "amy"


def _visible_text(html):
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.DOTALL)
    return re.sub(r"<[^>]+>", " ", html)


def test_login_page_zh_has_no_english(client):
    response = client.get("/login")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html and "登录" in html
    assert re.findall(r"[A-Za-z]{3,}", _visible_text(html)) == []
    attrs = re.findall(r'(?:aria-label|data-msg-[a-z-]+)="([^"]*)"', html)
    assert attrs and all(not re.search(r"[A-Za-z]{3,}", value) for value in attrs)
    assert '<script src="/static/login.js">' in html and "<script>" not in html  # no inline script
    with client.get("/static/login.js") as script:
        assert script.status_code == 200


def test_login_page_en(client):
    html = client.get("/login?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html and "Sign in" in html
    assert not re.search(r"[\u4e00-\u9fff]", _visible_text(html))


@pytest.mark.parametrize(("target", "expected"), [
    ("/planner", "/planner"), ("//evil.example", "/"), ("https://evil.example", "/"), ("/\\evil.example", "/")])
def test_login_page_next_stays_on_this_site(client, target, expected):
    html = client.get("/login", query_string={"next": target}).get_data(as_text=True)
    assert f'data-next="{expected}"' in html


def test_hostile_name_is_escaped(client, store):
    name = "<img src=x onerror=alert(1)>"
    _add(store, name=name, role="admin", districts=())
    assert _login(client, name=name).status_code == 200
    html = client.get("/login").get_data(as_text=True)
    assert name not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert client.get("/api/me").get_json()["user"] == name


def test_security_headers_on_login_page(client):
    response = client.get("/login")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self' 'unsafe-inline'" in policy and "connect-src 'self'" in policy
    assert "Access-Control-Allow-Origin" not in response.headers
