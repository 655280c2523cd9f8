"""User accounts of the living register: passwords, sign-in with rate limiting, and API tokens.

Passwords are kept as scrypt strings that name their own parameters (``scrypt$n=131072,r=8,p=1$salt$hash``), so
the cost can be raised later without breaking stored hashes. Failed sign-ins are counted in the register's
database per user name and per client address, so every worker process serving it sees the same counts. API tokens
(``smt_...``) are shown once; the store keeps only their SHA-256. Nothing here knows HTTP or the command line: the
web app (`stationmap.web.auth`) and the CLI (``stationmap user``, ``stationmap token``) call these functions.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import hmac
import math
import re
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from stationmap.errors import (
    AuthenticationError,
    BadRequestError,
    PermissionDeniedError,
    StationNotFoundError,
    TooManyAttemptsError,
)
from stationmap.store import ROLES, Store, User, utc_now

__all__ = [
    "DEFAULT_COST",
    "LOGIN_WINDOW_S",
    "MAX_LOGIN_FAILURES",
    "NAME_MAX_CHARS",
    "PASSWORD_MAX_CHARS",
    "PASSWORD_MIN_CHARS",
    "TOKEN_PREFIX",
    "ScryptCost",
    "add_user",
    "authenticate",
    "check_password_rules",
    "create_token",
    "disable_user",
    "hash_password",
    "revoke_tokens",
    "set_password",
    "token_hash",
    "user_for_token",
    "verify_password",
]

#: Shortest password accepted, in characters.
PASSWORD_MIN_CHARS = 10
#: Longest password accepted, in characters (a bound on the work one request can cause).
PASSWORD_MAX_CHARS = 256
#: Longest account name, in characters.
NAME_MAX_CHARS = 64
#: Failed sign-ins allowed per user name, and per client address, within `LOGIN_WINDOW_S`.
MAX_LOGIN_FAILURES = 5
#: The window failed sign-ins are counted in, in seconds (15 minutes).
LOGIN_WINDOW_S = 15 * 60
#: What every API token starts with, so a leaked one is recognisable (secret scanners, logs).
TOKEN_PREFIX = "smt_"

_MAX_MEMORY = 512 * 1024 * 1024  # refuse stored parameters that would need more memory than this (bytes)


@dataclass(frozen=True)
class ScryptCost:
    """
    Parameters of scrypt: memory and time grow with ``n * r`` (about ``128 * n * r`` bytes).

    Attributes
    ----------
    n
        CPU/memory cost, a power of two.
    r
        Block size.
    p
        Parallelisation.
    """

    n: int = 2**17
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        if self.n < 2 or self.n & (self.n - 1) or self.r < 1 or self.p < 1 or self._memory() > _MAX_MEMORY:
            msg = f"scrypt parameters n={self.n}, r={self.r}, p={self.p} are not usable (n a power of two, r, p >= 1)."
            raise BadRequestError(msg)

    def _memory(self) -> int:
        return 128 * self.n * self.r * (self.p + 1)


#: The cost new passwords are hashed with: OWASP's recommendation for scrypt (2**17, 8, 1), about 0.4 s and 128 MiB.
DEFAULT_COST = ScryptCost()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, cost: ScryptCost) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=cost.n, r=cost.r, p=cost.p,
                          maxmem=cost._memory() + 1024 * 1024, dklen=32)


def hash_password(password: str, *, cost: ScryptCost = DEFAULT_COST) -> str:
    """
    Return the string to keep for `password`: ``scrypt$n=..,r=..,p=..$salt$hash`` (URL-safe base64).

    Parameters
    ----------
    password
        The password as typed (UTF-8 encoded for hashing).
    cost
        scrypt parameters; the default is for real accounts, cheaper ones are for tests only.
    """
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, cost)
    return f"scrypt$n={cost.n},r={cost.r},p={cost.p}${_b64(salt)}${_b64(digest)}"


def _parse_hash(stored: str) -> tuple[ScryptCost, bytes, bytes] | None:
    parts = stored.split("$")
    if len(parts) != 4 or parts[0] != "scrypt":
        return None
    try:
        params = dict(item.split("=", 1) for item in parts[1].split(","))
        cost = ScryptCost(n=int(params["n"]), r=int(params["r"]), p=int(params["p"]))
        return cost, _unb64(parts[2]), _unb64(parts[3])
    except (ValueError, KeyError, BadRequestError):
        return None


def verify_password(password: str, stored: str) -> bool:
    """
    Return whether `password` matches a string `hash_password` wrote (compared in constant time).

    An empty or unreadable `stored` (an account without a password) matches nothing.
    """
    parsed = _parse_hash(stored)
    if parsed is None:
        return False
    cost, salt, expected = parsed
    return hmac.compare_digest(_scrypt(password, salt, cost), expected)


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random password with the default cost: unknown names cost as much time as known ones."""
    return hash_password(secrets.token_urlsafe(16))


def check_password_rules(password: str) -> None:
    """
    Refuse a password that is too short, too long or made of one kind of character only.

    Raises
    ------
    BadRequestError
        Naming the rule broken.
    """
    if len(password) < PASSWORD_MIN_CHARS:
        msg = (f"The password is too short ({len(password)} characters): use at least {PASSWORD_MIN_CHARS}, "
               "mixing letters with digits or other signs.")
        raise BadRequestError(msg)
    if len(password) > PASSWORD_MAX_CHARS:
        msg = f"The password is too long ({len(password)} characters): use at most {PASSWORD_MAX_CHARS}."
        raise BadRequestError(msg)
    classes = {"letter" if ch.isalpha() else "digit" if ch.isdigit() else "other" for ch in password}
    if len(classes) < 2:
        kind = {"letter": "letters", "digit": "digits", "other": "signs"}[classes.pop()]
        msg = (f"The password is made of {kind} only: mix at least two of letters, digits and other signs "
               "(spaces and punctuation count).")
        raise BadRequestError(msg)
    if len(set(password)) < 4:
        msg = "The password repeats too few different characters: use at least four different ones."
        raise BadRequestError(msg)


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= NAME_MAX_CHARS:
        msg = f"An account name takes 1 to {NAME_MAX_CHARS} characters, got {len(name) if isinstance(name, str) else name!r}."
        raise BadRequestError(msg)
    if name != name.strip() or any(unicodedata.category(ch).startswith("C") for ch in name):
        msg = f"The account name {name!r} has control characters or leading/trailing spaces; choose another."
        raise BadRequestError(msg)
    return name


def _resolve_districts(role: str, districts: Sequence[str]) -> tuple[str, ...]:
    """Turn adcodes or names into county-level adcodes (a city or province means its districts)."""
    from stationmap.gazetteer import cnmaps_gazetteer  # the index loads only when accounts name districts

    if role != "editor":
        if districts:
            msg = f"Only editors have districts; a {role} may not be given {', '.join(districts)}."
            raise BadRequestError(msg)
        return ()
    if not districts:
        msg = "An editor needs at least one district (an adcode such as 440106, or a name such as 广州市 天河区)."
        raise BadRequestError(msg)
    gazetteer = cnmaps_gazetteer()
    codes: dict[str, None] = {}
    for query in districts:
        text = str(query).strip()
        division = gazetteer.get(text) if re.fullmatch(r"\d{6}", text) else gazetteer.resolve(text)
        for county in gazetteer.counties(division):
            codes[county.adcode] = None
    return tuple(sorted(codes))


def _existing(store: Store, name: str) -> User:
    user = store.get_user(name)
    if user is None:
        msg = f"No account named {name!r}; add it first (stationmap user add)."
        raise StationNotFoundError(msg)
    return user


def add_user(store: Store, name: str, role: str, districts: Sequence[str] = (), password: str | None = None, *,
             cost: ScryptCost = DEFAULT_COST) -> User:
    """
    Add an account.

    Parameters
    ----------
    store
        The register.
    name
        Login name: 1 to 64 characters, no control characters, no leading or trailing spaces.
    role
        One of `stationmap.store.ROLES`.
    districts
        For an editor (at least one): adcodes (``440106``) or Chinese names (``广州市 天河区``); a city or province
        means each of its county-level districts. Other roles take none.
    password
        None for an account that uses API tokens only (it cannot sign in).
    cost
        scrypt parameters (cheaper ones for tests only).

    Returns
    -------
    user
        The account as stored.

    Raises
    ------
    BadRequestError
        If the name, role, districts or password break a rule, or the name is taken.
    DistrictLookupError
        If a district is unknown or its name is ambiguous.
    """
    _check_name(name)
    if role not in ROLES:
        msg = f"Role must be one of {', '.join(ROLES)}, got {role!r}."
        raise BadRequestError(msg)
    codes = _resolve_districts(role, districts)
    if password is not None:
        check_password_rules(password)
    if store.get_user(name) is not None:
        msg = f"An account named {name!r} exists already."
        raise BadRequestError(msg)
    user = User(name=name, role=role, districts=codes,
                password_hash=hash_password(password, cost=cost) if password is not None else "",
                created_at=utc_now())
    store.put_user(user)
    return user


def set_password(store: Store, name: str, password: str, *, cost: ScryptCost = DEFAULT_COST) -> User:
    """
    Give an account a new password; its browser sessions end (``session_epoch`` grows), its tokens stay.

    Raises
    ------
    StationNotFoundError
        If there is no such account.
    BadRequestError
        If the password breaks a rule.
    """
    user = _existing(store, name)
    check_password_rules(password)
    changed = dataclasses.replace(user, password_hash=hash_password(password, cost=cost),
                                  session_epoch=user.session_epoch + 1)
    store.put_user(changed)
    return changed


def disable_user(store: Store, name: str) -> User:
    """
    Disable an account: it can neither sign in nor use its tokens, and its browser sessions end.

    Raises
    ------
    StationNotFoundError
        If there is no such account.
    """
    user = _existing(store, name)
    changed = dataclasses.replace(user, disabled=True, session_epoch=user.session_epoch + 1)
    store.put_user(changed)
    return changed


def _check_attempts(store: Store, keys: Sequence[str], now: datetime, *, max_failures: int, window_s: int) -> None:
    since = now - timedelta(seconds=window_s)
    for key in keys:
        failures = store.login_failures(key, since)
        if len(failures) >= max_failures:
            # the oldest failure that still counts leaves the window when the count drops below the limit
            frees_at = failures[-max_failures] + timedelta(seconds=window_s)
            retry_after_s = max(1, math.ceil((frees_at - now).total_seconds()))
            minutes = max(1, math.ceil(retry_after_s / 60))
            msg = (f"Too many failed sign-ins ({len(failures)} in {window_s // 60} minutes); "
                   f"try again in {minutes} minute(s).")
            raise TooManyAttemptsError(msg, retry_after_s=retry_after_s)


def authenticate(store: Store, name: str, password: str, client: str, *, now: datetime | None = None,
                 max_failures: int = MAX_LOGIN_FAILURES, window_s: int = LOGIN_WINDOW_S) -> User:
    """
    Return the account if `password` is its password, counting failures per name and per client address.

    Parameters
    ----------
    store
        The register (the failure counts live in its database, shared by every worker process).
    name, password
        As typed.
    client
        The client's address (``request.remote_addr``), a second key for the failure count.
    now
        The current time (UTC; for tests).
    max_failures, window_s
        After `max_failures` failures within `window_s` seconds for the name or the address, further attempts are
        refused until the oldest of them leaves the window, right password or not.

    Raises
    ------
    TooManyAttemptsError
        If the name or the address failed too often lately (``retry_after_s`` says when to try again; 429).
    AuthenticationError
        If the name is unknown, the account has no password, or the password is wrong (one message for all; 401).
    PermissionDeniedError
        If the password is right but the account is disabled (403).
    """
    now = now or utc_now()
    keys = [f"user:{name[:NAME_MAX_CHARS + 1]}", f"client:{client}"]
    _check_attempts(store, keys, now, max_failures=max_failures, window_s=window_s)
    user = store.get_user(name) if isinstance(name, str) and len(name) <= NAME_MAX_CHARS else None
    stored = user.password_hash if user is not None and user.password_hash else _dummy_hash()
    # hash even for unknown names and over-long passwords, so the answer takes the same time either way
    matches = verify_password(password[:PASSWORD_MAX_CHARS], stored) and len(password) <= PASSWORD_MAX_CHARS
    if user is None or not user.password_hash or not matches:
        for key in keys:
            store.note_login_failure(key, now)
        raise AuthenticationError("Wrong account name or password.")
    if user.disabled:
        msg = f"Account {user.name!r} is disabled; ask an administrator."
        raise PermissionDeniedError(msg)
    store.clear_login_failures(keys[0])
    return user


def token_hash(token: str) -> str:
    """The SHA-256 of a token (hex), the only form the store keeps."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(store: Store, name: str, label: str = "") -> str:
    """
    Make a new API token for an account and return it; it cannot be shown again.

    Parameters
    ----------
    store
        The register.
    name
        The account.
    label
        What the token is for (``importer``, ``qgis``), to revoke it alone later.

    Returns
    -------
    token
        ``smt_`` and 43 random URL-safe characters (256 bits).

    Raises
    ------
    StationNotFoundError
        If there is no such account.
    PermissionDeniedError
        If the account is disabled.
    """
    user = _existing(store, name)
    if user.disabled:
        msg = f"Account {name!r} is disabled; it may not get tokens."
        raise PermissionDeniedError(msg)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    store.add_token(token_hash(token), user=name, label=label)
    return token


def user_for_token(store: Store, token: str) -> User:
    """
    Return the account an API token belongs to.

    Raises
    ------
    AuthenticationError
        If the token is malformed, unknown or revoked, or its account is disabled (never anonymous; 401).
    """
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        msg = f"Not a stationmap API token (they start with {TOKEN_PREFIX!r})."
        raise AuthenticationError(msg)
    user = store.token_user(token_hash(token))
    if user is None:
        raise AuthenticationError("Unknown or revoked API token.")
    if user.disabled:
        msg = f"The API token's account {user.name!r} is disabled."
        raise AuthenticationError(msg)
    return user


def revoke_tokens(store: Store, name: str, label: str | None = None) -> int:
    """
    Revoke an account's tokens (those with `label`, or all) and return how many.

    Raises
    ------
    StationNotFoundError
        If there is no such account.
    """
    _existing(store, name)
    return store.revoke_tokens(name, label=label)
