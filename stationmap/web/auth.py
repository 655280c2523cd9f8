"""Sign-in for the web app: the login page and API, signed session cookies, API tokens, and the CSRF rule.

Contract for every route that acts on behalf of a user (the editing API): call `current_user` (or `require_user`)
before doing anything. It answers

- ``Authorization: Bearer smt_...`` with the token's account; a malformed, unknown or revoked token, or a disabled
  account, is refused with 401 (never treated as anonymous); such requests need no CSRF token;
- otherwise the account of the session cookie, re-read from the store on every request: a disabled account or a
  changed ``session_epoch`` (new password) ends the session; for POST, PUT, PATCH and DELETE the request must send
  the session's CSRF token (``csrf_token`` of ``/api/login`` or ``/api/me``) in ``X-CSRF-Token``, else 403;
- None when neither is there.

The session cookie (``stationmap_session``) is HttpOnly, SameSite=Lax, Secure over HTTPS (``Settings.cookie_secure``)
and lasts ``Settings.session_hours`` from sign-in. ``/api/login`` takes JSON only and refuses another Origin, so no
other site can sign a browser in or out.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, g, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from stationmap import accounts, i18n
from stationmap.config import Settings
from stationmap.errors import AuthenticationError, BadRequestError, PermissionDeniedError
from stationmap.store import Store, User
from stationmap.web.jsonutil import json_response

__all__ = ["CSRF_HEADER", "SESSION_COOKIE", "bp", "current_user", "init_auth", "require_user"]

#: The header a cookie-authenticated write must carry, holding the session's CSRF token.
CSRF_HEADER = "X-CSRF-Token"
#: The session cookie's name.
SESSION_COOKIE = "stationmap_session"
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_COOKIE_SECURE = ("auto", "always", "never")
_MIN_SECRET_CHARS = 32
_USER_KEY = "stationmap_user"  # in flask.g: the account of this request, once worked out

bp = Blueprint("auth", __name__)


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with ``Secure`` decided per request (``auto``: when it came over HTTPS)."""

    def __init__(self, secure: str) -> None:
        self.secure = secure

    def get_cookie_secure(self, app: Flask) -> bool:
        if self.secure == "auto":
            return request.is_secure  # behind ProxyFix this is the scheme the client used
        return self.secure == "always"


def init_auth(app: Flask, store: Store, settings: Settings) -> None:
    """
    Set up sessions and register the sign-in routes on `app`.

    Parameters
    ----------
    app
        The application `stationmap.web.app.create_app` builds.
    store
        The register holding the accounts, tokens, failure counts and (without ``settings.session_secret``) the
        session key.
    settings
        ``session_secret``, ``cookie_secure`` and ``session_hours`` are read.

    Raises
    ------
    BadRequestError
        If ``cookie_secure`` is not auto/always/never, the secret is shorter than 32 characters, or the session
        lifetime is not positive.
    """
    if settings.cookie_secure not in _COOKIE_SECURE:
        msg = (f"Setting cookie_secure (STATIONMAP_COOKIE_SECURE) must be one of {', '.join(_COOKIE_SECURE)}, "
               f"got {settings.cookie_secure!r}.")
        raise BadRequestError(msg)
    if settings.session_secret and len(settings.session_secret) < _MIN_SECRET_CHARS:
        msg = (f"Setting session_secret (STATIONMAP_SESSION_SECRET) must have at least {_MIN_SECRET_CHARS} "
               "characters; leave it empty to keep a random one in the register's database.")
        raise BadRequestError(msg)
    if not settings.session_hours > 0:
        msg = f"Setting session_hours (STATIONMAP_SESSION_HOURS) must be more than 0, got {settings.session_hours}."
        raise BadRequestError(msg)
    # every worker process serving this register must sign with the same key: the first one to start makes it
    secret = settings.session_secret or str(store.set_meta_if_absent("session_secret", secrets.token_hex(32)))
    app.secret_key = secret
    app.config.update(SESSION_COOKIE_NAME=SESSION_COOKIE, SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax", SESSION_REFRESH_EACH_REQUEST=False,
                      PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours))
    app.session_interface = _SessionInterface(settings.cookie_secure)
    app.extensions.setdefault("stationmap_store", store)
    app.register_blueprint(bp)  # a 429 gets its Retry-After from web/errors.py like a 503


def _store() -> Store:
    store: Store = current_app.extensions["stationmap_store"]
    return store


def current_user() -> User | None:
    """
    Return the account this request acts for, or None when anonymous (see the module docstring for the rules).

    Raises
    ------
    AuthenticationError
        If an ``Authorization`` header is there but is not a valid ``Bearer`` token of an enabled account (401).
    PermissionDeniedError
        If a cookie-authenticated POST/PUT/PATCH/DELETE lacks the session's CSRF token in ``X-CSRF-Token`` (403).
    """
    if _USER_KEY in g:
        user: User | None = g.get(_USER_KEY)
        return user
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("The Authorization header must be 'Bearer <token>' with a stationmap API token.")
        user = accounts.user_for_token(_store(), token.strip())
    else:
        user = _session_user()
        if user is not None and request.method in _UNSAFE_METHODS:
            _check_csrf()
    setattr(g, _USER_KEY, user)
    return user


def require_user() -> User:
    """
    Return the account this request acts for, refusing anonymous requests.

    Raises
    ------
    AuthenticationError
        If nobody is signed in and no token was sent, or the token is invalid (401).
    PermissionDeniedError
        If a cookie-authenticated write lacks its CSRF token (403).
    """
    user = current_user()
    if user is None:
        raise AuthenticationError("This needs an account: sign in at /login, or send 'Authorization: Bearer <token>'.")
    return user


def _session_user() -> User | None:
    name = session.get("user")
    if not isinstance(name, str):
        return None
    user = _store().get_user(name)
    if user is None or user.disabled or user.session_epoch != session.get("epoch"):
        session.clear()  # the account changed since sign-in: signed out
        return None
    return user


def _check_csrf() -> None:
    expected = session.get("csrf")
    given = request.headers.get(CSRF_HEADER, "")
    if not isinstance(expected, str) or not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        msg = (f"Missing or wrong {CSRF_HEADER} header: a signed-in browser must send the csrf_token of /api/me "
               "with every change.")
        raise PermissionDeniedError(msg)


def _check_same_origin() -> None:
    """Refuse a request another site's page sent (its Origin, or failing that its Referer, names another origin)."""
    origin = request.headers.get("Origin")
    if origin is None:
        referer = request.headers.get("Referer")
        if referer:
            parts = urlsplit(referer)
            origin = f"{parts.scheme}://{parts.netloc}"
    if origin is not None and origin.rstrip("/") != f"{request.scheme}://{request.host}":
        msg = f"Sign-in from another site ({origin}) is refused; use this site's own login page."
        raise PermissionDeniedError(msg)


def _account_body(user: User, csrf_token: str | None) -> dict[str, Any]:
    return {"ok": True, "user": user.name, "role": user.role, "districts": list(user.districts),
            "csrf_token": csrf_token}


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/api/login")
def login() -> Response:
    """Sign in with JSON ``{"name", "password"}``; sets the session cookie and returns the account and CSRF token."""
    _check_same_origin()
    if not request.is_json:
        raise BadRequestError("Send the sign-in as JSON (Content-Type: application/json) with 'name' and 'password'.")
    body = request.get_json(silent=True)
    name = body.get("name") if isinstance(body, dict) else None
    password = body.get("password") if isinstance(body, dict) else None
    if not isinstance(name, str) or not isinstance(password, str) or not name or not password:
        raise BadRequestError("The sign-in needs JSON strings 'name' and 'password'.")
    user = accounts.authenticate(_store(), name, password, request.remote_addr or "unknown")
    session.clear()
    session.permanent = True
    csrf_token = secrets.token_urlsafe(32)
    session.update({"user": user.name, "epoch": user.session_epoch, "csrf": csrf_token})
    g.pop(_USER_KEY, None)
    return _private(json_response(_account_body(user, csrf_token)))


@bp.post("/api/logout")
def logout() -> Response:
    """End the browser session (a cookie-authenticated request needs its CSRF token)."""
    current_user()
    session.clear()
    return _private(json_response({"ok": True, "user": None}))


@bp.get("/api/me")
def me() -> Response:
    """The account this request acts for, with the session's CSRF token; ``{"user": null}`` when anonymous."""
    user = current_user()
    if user is None:
        return _private(json_response({"ok": True, "user": None}))
    token = None if "Authorization" in request.headers else session.get("csrf")
    return _private(json_response(_account_body(user, token)))


def _safe_next(target: str | None) -> str:
    """A path on this site to go to after sign-in; anything else (another site, a scheme) means the map."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return url_for("views.index")
    if any(ord(ch) < 32 or ch == "\\" for ch in target):
        return url_for("views.index")
    return target


@bp.get("/login")
def login_page() -> Response:
    """The sign-in page, in Chinese (``?lang=en`` for English); ``?next=/path`` is where to go after signing in."""
    lang = "en" if request.args.get("lang") == "en" else "zh"

    def t(key: str, **fields: Any) -> str:
        return i18n.text(f"web.login.{key}", lang, **fields)

    user = current_user()
    html = render_template("login.html", lang=lang, t=t, user=user, next_url=_safe_next(request.args.get("next")),
                           other_lang="zh" if lang == "en" else "en",
                           csrf_token=session.get("csrf") if user is not None else None)
    response = Response(html, mimetype="text/html")
    return _private(response)
