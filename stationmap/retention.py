"""What the register forgets and when: personal data and old rows that no longer serve a purpose.

A worker's report keeps the keyed hash of their address only as long as the rate limits can look at it
(`KEEP_CLIENT_KEY_DAYS`), and a phone number left for a reply only until `KEEP_PHONE_DAYS` after the report is
closed. Closed reports are deleted after `KEEP_CLOSED_REPORT_DAYS` (open ones are kept: they are owed an answer);
failed sign-ins after `KEEP_LOGIN_FAILURE_DAYS`. `prune` applies all of it in one transaction; the server calls it
when it starts, ``stationmap prune`` on demand (a daily timer in deploy/), and it is idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from stationmap.parameters import (
    KEEP_CLIENT_KEY_DAYS,
    KEEP_CLOSED_REPORT_DAYS,
    KEEP_LOGIN_FAILURE_DAYS,
    KEEP_PHONE_DAYS,
)
from stationmap.store import Store, utc_now

__all__ = ["Pruned", "prune"]


@dataclass(frozen=True)
class Pruned:
    """What one `prune` forgot: rows deleted or blanked, and the cut-off times (UTC) it used."""

    login_failures: int
    client_keys: int
    phones: int
    reports: int
    at: datetime

    def describe(self, lang: str = "zh") -> str:
        """One line for people: what was forgotten."""
        if lang == "zh":
            return (f"已删除 {self.login_failures} 条登录失败记录、{self.reports} 份已关闭超过"
                    f"{KEEP_CLOSED_REPORT_DAYS}天的反馈；已抹去 {self.client_keys} 份反馈的来源标识和 "
                    f"{self.phones} 个电话号码。")
        return (f"Deleted {self.login_failures} failed sign-in(s) and {self.reports} report(s) closed more than "
                f"{KEEP_CLOSED_REPORT_DAYS} days ago; blanked the sender hash of {self.client_keys} report(s) and "
                f"{self.phones} phone number(s).")


def prune(store: Store, now: datetime | None = None) -> Pruned:
    """
    Forget what the retention periods no longer cover, in one transaction.

    Parameters
    ----------
    store
        The register.
    now
        The current time (UTC, timezone-aware; default now; for tests and ``--as-of`` style checks).

    Returns
    -------
    Pruned
        The counts of rows deleted or blanked.
    """
    now = now or utc_now()
    counts = store.prune(login_before=now - timedelta(days=KEEP_LOGIN_FAILURE_DAYS),
                         client_key_before=now - timedelta(days=KEEP_CLIENT_KEY_DAYS),
                         phone_closed_before=now - timedelta(days=KEEP_PHONE_DAYS),
                         closed_before=now - timedelta(days=KEEP_CLOSED_REPORT_DAYS))
    return Pruned(at=now, **counts)
