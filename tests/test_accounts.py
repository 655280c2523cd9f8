"""Tests for stationmap.accounts and the ``stationmap user`` / ``stationmap token`` commands, on both backends."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from stationmap import accounts
from stationmap.accounts import ScryptCost
from stationmap.cli import main
from stationmap.errors import (
    AuthenticationError,
    BadRequestError,
    DistrictLookupError,
    PermissionDeniedError,
    StationNotFoundError,
    TooManyAttemptsError,
)
from stationmap.store import utc_now

CHEAP = ScryptCost(n=16, r=1, p=1)  # tests only: real accounts use accounts.DEFAULT_COST
PASSWORD = "correct horse 42"


def _add(store, name="amy", role="admin", districts=(), password=PASSWORD):
    return accounts.add_user(store, name, role, districts, password, cost=CHEAP)


# --- passwords ---------------------------------------------------------------------------------------------------

def test_hash_round_trip_names_its_parameters():
    stored = accounts.hash_password(PASSWORD, cost=CHEAP)
    assert stored.startswith("scrypt$n=16,r=1,p=1$")
    assert accounts.verify_password(PASSWORD, stored)
    assert not accounts.verify_password(PASSWORD + "x", stored)
    assert accounts.hash_password(PASSWORD, cost=CHEAP) != stored  # salted


def test_default_cost_is_strong_and_verifies():
    assert accounts.DEFAULT_COST.n >= 2**17 and accounts.DEFAULT_COST.r >= 8
    stored = accounts.hash_password("密码是 1234567")
    assert accounts.verify_password("密码是 1234567", stored)


@pytest.mark.parametrize("stored", ["", "plain", "scrypt$n=3,r=1,p=1$AA$AA", "scrypt$n=16$x$y", "bcrypt$x$y$z"])
def test_unreadable_hash_matches_nothing(stored):
    assert not accounts.verify_password(PASSWORD, stored)


@pytest.mark.parametrize(("password", "words"), [
    ("short1!", "too short"),
    ("abcdefghijkl", "letters only"),
    ("12345678901", "digits only"),
    ("a1" * 6, "different"),
    ("x1" * 200, "too long"),
])
def test_password_rules_say_which(password, words):
    with pytest.raises(BadRequestError, match=words):
        accounts.check_password_rules(password)


def test_password_rules_accept_chinese_with_digits():
    accounts.check_password_rules("工会驿站二〇二六 26")


# --- accounts ----------------------------------------------------------------------------------------------------

def test_add_user_validates_name_role_and_districts(store):
    with pytest.raises(BadRequestError, match="1 to 64"):
        _add(store, name="")
    with pytest.raises(BadRequestError, match="control"):
        _add(store, name="bad\nname")
    with pytest.raises(BadRequestError, match="control"):
        _add(store, name=" padded")
    with pytest.raises(BadRequestError, match="Role must be"):
        _add(store, role="owner")
    with pytest.raises(BadRequestError, match="at least one district"):
        _add(store, role="editor")
    with pytest.raises(BadRequestError, match="Only editors"):
        _add(store, role="viewer", districts=("440106",))
    with pytest.raises(DistrictLookupError):
        _add(store, role="editor", districts=("999999",))
    with pytest.raises(DistrictLookupError, match="ambiguous"):
        _add(store, role="editor", districts=("鼓楼区",))
    with pytest.raises(BadRequestError, match="too short"):
        _add(store, password="short")
    assert store.users() == []


def test_editor_districts_by_code_name_or_city(store):
    ed = _add(store, name="ed", role="editor", districts=("610111", "广州市 天河区"))
    assert ed.districts == ("440106", "610111")
    city = _add(store, name="city", role="editor", districts=("西安市",))
    assert "610111" in city.districts and len(city.districts) > 5
    assert store.get_user("ed").districts == ("440106", "610111")
    with pytest.raises(BadRequestError, match="exists already"):
        _add(store, name="ed", role="viewer")


def test_tokens_only_account_cannot_sign_in(store):
    _add(store, name="bot", role="editor", districts=("610111",), password=None)
    assert store.get_user("bot").password_hash == ""
    with pytest.raises(AuthenticationError):
        accounts.authenticate(store, "bot", "", "10.0.0.1")


def test_set_password_and_disable_end_sessions(store):
    first = _add(store)
    changed = accounts.set_password(store, "amy", "another pass 7", cost=CHEAP)
    assert changed.session_epoch == first.session_epoch + 1
    assert accounts.authenticate(store, "amy", "another pass 7", "c").name == "amy"
    with pytest.raises(AuthenticationError):
        accounts.authenticate(store, "amy", PASSWORD, "c")
    disabled = accounts.disable_user(store, "amy")
    assert disabled.disabled and disabled.session_epoch == changed.session_epoch + 1
    with pytest.raises(PermissionDeniedError, match="disabled"):
        accounts.authenticate(store, "amy", "another pass 7", "c")
    with pytest.raises(StationNotFoundError):
        accounts.set_password(store, "nobody", "another pass 7", cost=CHEAP)


# --- sign-in and its rate limit ----------------------------------------------------------------------------------

def test_authenticate_right_and_wrong(store):
    _add(store)
    assert accounts.authenticate(store, "amy", PASSWORD, "10.0.0.1").role == "admin"
    with pytest.raises(AuthenticationError, match="Wrong account name or password"):
        accounts.authenticate(store, "amy", "wrong password 1", "10.0.0.1")
    with pytest.raises(AuthenticationError, match="Wrong account name or password"):
        accounts.authenticate(store, "nobody", PASSWORD, "10.0.0.1")  # same message, verified against a dummy


def test_rate_limit_per_name_then_429_with_retry_after(store):
    _add(store)
    now = utc_now()
    for i in range(5):
        with pytest.raises(AuthenticationError):
            accounts.authenticate(store, "amy", "wrong password 1", f"10.0.0.{i}", now=now + timedelta(seconds=i))
    with pytest.raises(TooManyAttemptsError) as caught:  # even the right password, from another address
        accounts.authenticate(store, "amy", PASSWORD, "10.9.9.9", now=now + timedelta(seconds=10))
    assert caught.value.http_status == 429
    assert 880 <= caught.value.retry_after_s <= 900
    later = now + timedelta(seconds=accounts.LOGIN_WINDOW_S + 1)  # the first failure has left the window
    assert accounts.authenticate(store, "amy", PASSWORD, "10.9.9.9", now=later).name == "amy"


def test_rate_limit_per_client_address(store):
    _add(store)
    now = utc_now()
    for i in range(5):
        with pytest.raises(AuthenticationError):
            accounts.authenticate(store, f"guess{i}", PASSWORD, "10.6.6.6", now=now, max_failures=5)
    with pytest.raises(TooManyAttemptsError):
        accounts.authenticate(store, "amy", PASSWORD, "10.6.6.6", now=now)
    assert accounts.authenticate(store, "amy", PASSWORD, "10.7.7.7", now=now).name == "amy"


def test_success_clears_the_names_failures(store):
    _add(store)
    now = utc_now()
    for i in range(4):
        with pytest.raises(AuthenticationError):
            accounts.authenticate(store, "amy", "wrong password 1", f"10.1.0.{i}", now=now)
    accounts.authenticate(store, "amy", PASSWORD, "10.1.1.1", now=now)
    for i in range(4):
        with pytest.raises(AuthenticationError):
            accounts.authenticate(store, "amy", "wrong password 1", f"10.2.0.{i}", now=now)
    assert accounts.authenticate(store, "amy", PASSWORD, "10.3.3.3", now=now).name == "amy"


# --- tokens ------------------------------------------------------------------------------------------------------

def test_token_create_lookup_revoke(store):
    _add(store, name="ed", role="editor", districts=("610111",), password=None)
    token = accounts.create_token(store, "ed", "importer")
    other = accounts.create_token(store, "ed", "qgis")
    assert token.startswith("smt_") and len(token) >= 4 + 43 and token != other
    assert accounts.user_for_token(store, token).name == "ed"
    assert store.token_user(token) is None  # only the hash is kept
    assert store.token_user(accounts.token_hash(token)).name == "ed"
    assert accounts.revoke_tokens(store, "ed", "importer") == 1
    with pytest.raises(AuthenticationError, match="revoked"):
        accounts.user_for_token(store, token)
    assert accounts.user_for_token(store, other).name == "ed"
    with pytest.raises(AuthenticationError, match="smt_"):
        accounts.user_for_token(store, "not-a-token")
    with pytest.raises(StationNotFoundError):
        accounts.create_token(store, "nobody")


def test_disabled_account_tokens_refused(store):
    _add(store, name="ed", role="editor", districts=("610111",))
    token = accounts.create_token(store, "ed")
    accounts.disable_user(store, "ed")
    with pytest.raises(AuthenticationError, match="disabled"):
        accounts.user_for_token(store, token)
    with pytest.raises(PermissionDeniedError):
        accounts.create_token(store, "ed")


def test_user_repr_hides_the_hash(store):
    user = _add(store)
    assert "scrypt" not in repr(user) and "scrypt" not in repr(dataclasses.replace(user))


# --- the command line --------------------------------------------------------------------------------------------

def _run(runner, database_url, *args, input=None):
    result = runner.invoke(main, [*args, "--database", database_url], input=input)
    return result


def test_cli_user_add_list_passwd_disable(runner, database_url):
    from stationmap.store import open_store

    added = _run(runner, database_url, "user", "add", "ed", "--role", "editor", "--district", "灞桥区",
                 "--district", "440106", "--password-stdin", input="a good password 1\n")
    assert added.exit_code == 0, added.output
    assert "added editor 'ed' for districts 440106, 610111" in added.output
    bot = _run(runner, database_url, "user", "add", "bot", "--role", "viewer")  # no terminal, no flag
    assert bot.exit_code == 0, bot.output
    assert "tokens only" in bot.output
    listed = _run(runner, database_url, "user", "list")
    assert listed.exit_code == 0, listed.output
    assert "ed\teditor\t440106,610111\tpassword" in listed.output
    assert "bot\tviewer\t-\ttokens only" in listed.output
    weak = _run(runner, database_url, "user", "passwd", "ed", "--password-stdin", input="weak\n")
    assert weak.exit_code == 1 and "too short" in weak.output
    no_tty = _run(runner, database_url, "user", "passwd", "ed")
    assert no_tty.exit_code == 2 and "--password-stdin" in no_tty.output
    changed = _run(runner, database_url, "user", "passwd", "ed", "--password-stdin", input="another one 22\n")
    assert changed.exit_code == 0, changed.output
    disabled = _run(runner, database_url, "user", "disable", "ed")
    assert disabled.exit_code == 0, disabled.output
    with open_store(database_url) as store:
        ed = store.get_user("ed")
        assert ed.disabled and ed.session_epoch == 2
        assert accounts.verify_password("another one 22", ed.password_hash)


def test_cli_user_add_refusals(runner, database_url):
    unknown = _run(runner, database_url, "user", "add", "ed", "--role", "editor", "--district", "999999")
    assert unknown.exit_code == 2, unknown.output
    no_district = _run(runner, database_url, "user", "add", "ed", "--role", "editor")
    assert no_district.exit_code == 1 and "at least one district" in no_district.output
    bad_role = _run(runner, database_url, "user", "add", "ed", "--role", "owner")
    assert bad_role.exit_code == 2
    missing = _run(runner, database_url, "user", "disable", "nobody")
    assert missing.exit_code == 1 and "No account named 'nobody'" in missing.output


def test_cli_prompts_twice_at_a_terminal(runner, database_url, monkeypatch):
    import stationmap.cli

    monkeypatch.setattr(stationmap.cli, "_stdin_is_tty", lambda: True)
    result = _run(runner, database_url, "user", "add", "amy", "--role", "admin",
                  input="typed password 9\ntyped password 9\n")
    assert result.exit_code == 0, result.output
    assert "typed password 9" not in result.output  # hidden input
    assert "Repeat for confirmation" in result.output


def test_cli_token_create_and_revoke(runner, database_url):
    from stationmap.store import open_store

    assert _run(runner, database_url, "user", "add", "bot", "--role", "viewer").exit_code == 0
    created = _run(runner, database_url, "token", "create", "bot", "--label", "qgis")
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert token.startswith("smt_") and "\n" not in token
    assert "shown once" in created.stderr
    with open_store(database_url) as store:
        assert accounts.user_for_token(store, token).name == "bot"
    revoked = _run(runner, database_url, "token", "revoke", "bot", "--label", "qgis")
    assert revoked.exit_code == 0 and "revoked 1 token(s)" in revoked.output
    with open_store(database_url) as store, pytest.raises(AuthenticationError):
        accounts.user_for_token(store, token)
    nobody = _run(runner, database_url, "token", "create", "nobody")
    assert nobody.exit_code == 1 and "No account named" in nobody.output
