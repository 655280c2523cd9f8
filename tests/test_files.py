"""Files: UTF-8 reading with precise errors, atomic replacement that never leaves half a file."""

from __future__ import annotations

import threading

import pytest

from stationmap.errors import StationDataError
from stationmap.files import atomic_write, decode_table_text, read_utf8


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


# --- hardened (issue 11): table encodings and workbook size ------------------------------------------------------

_ZH = "站点名称,地址\n纺织公园爱心驿站,西安市灞桥区纺织城正街（近地铁站）\n席王街道环卫驿站：饮水、热饭、充电\n"
_TW = "站點名稱,地址\n紡織公園愛心驛站,西安市灞橋區紡織城正街\n席王街道環衛驛站：飲水、熱飯、充電\n"


@pytest.mark.parametrize("raw", [_ZH.encode("utf-8"), b"\xef\xbb\xbf" + _ZH.encode("utf-8"), _ZH.encode("gbk"),
                                 _ZH.encode("gb18030")])
def test_utf8_bom_gbk_and_gb18030_tables_are_detected(raw):
    assert decode_table_text(raw, name="t.csv") == _ZH


@pytest.mark.parametrize("codec", ["big5", "shift_jis", "cp1252"])
def test_other_encodings_are_refused_asking_for_encoding(codec):
    text = {"shift_jis": "駅名,住所\n東京駅,千代田区丸の内\n", "cp1252": "name\nCafé Müller – naïve\n"}.get(codec, _TW)
    with pytest.raises(StationDataError, match="--encoding"):
        decode_table_text(text.encode(codec), name="t.csv")
    assert decode_table_text(text.encode(codec), name="t.csv", encoding=codec) == text


def test_private_use_characters_refuse_gb18030():
    raw = _ZH.encode("gb18030") + "\ue000".encode("gb18030")
    with pytest.raises(StationDataError, match="--encoding"):
        decode_table_text(raw, name="t.csv")


def test_xlsx_size_is_checked_from_the_zip_directory(tmp_path, monkeypatch):
    import zipfile

    from stationmap import files

    path = tmp_path / "book.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", b"a" * 3_000_000)
    files.check_xlsx_size(path)
    monkeypatch.setattr(files, "MAX_XLSX_UNCOMPRESSED_BYTES", 2_000_000)
    with pytest.raises(StationDataError, match="uncompresses to 3,000,000 bytes"):
        files.check_xlsx_size(path)


@pytest.mark.parametrize(("value", "formula"), [
    ("=1+1", True), ("+86 29 8350 0000", True), ("-2+3", True), ("@SUM(A1)", True), ("\tx", True), ("\rx", True),
    ("-inf", True), ("-3.5", False), ("+1e3", False), ("-7", False), ("灞桥区", False), ("", False), (-3.5, False),
    (None, False),
])
def test_formula_text_rule(value, formula):
    from stationmap.files import is_formula_text

    assert is_formula_text(value) is formula
