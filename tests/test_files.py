"""Files: UTF-8 reading with precise errors, atomic replacement that never leaves half a file."""

from __future__ import annotations

import threading

import pytest

from stationmap.errors import StationDataError
from stationmap.files import atomic_write, read_utf8


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "keep.geojson"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(ZeroDivisionError), atomic_write(target) as tmp:
        tmp.write_text("half", encoding="utf-8")
        1 / 0  # noqa: B018
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.geojson"]


def test_concurrent_writers_never_interleave(tmp_path):
    target = tmp_path / "shared.txt"

    def write(text: str) -> None:
        with atomic_write(target) as tmp:
            tmp.write_text(text * 10_000, encoding="utf-8")

    threads = [threading.Thread(target=write, args=(c,)) for c in "abcdefgh"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    body = target.read_text(encoding="utf-8")
    assert len(body) == 10_000 and len(set(body)) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["shared.txt"]


def test_read_utf8_names_the_bad_byte_and_allows_a_bom(tmp_path):
    good = tmp_path / "bom.txt"
    good.write_bytes("\ufeff驿站".encode())
    assert read_utf8(good, what="Station file") == "驿站"
    bad = tmp_path / "gbk.txt"
    bad.write_bytes("驿站".encode("gbk"))
    with pytest.raises(StationDataError, match="not UTF-8 \\(invalid byte 0xe6 at offset 0\\)"):
        read_utf8(bad, what="Station file")
    with pytest.raises(StationDataError, match="Station file .*missing.txt' does not exist"):
        read_utf8(tmp_path / "missing.txt", what="Station file")
