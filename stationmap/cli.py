"""The ``stationmap`` command line: thin click commands over the package's functions.

Exit codes: 0 success, 1 bad data or a failed check (with a precise message), 2 bad usage (click's own).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

import pandas as pd

from stationmap import districts as district_mod
from stationmap import importer, rubric, stations
from stationmap.analysis import rating
from stationmap.config import Settings
from stationmap.errors import StationMapError

__all__ = ["main"]


def _domain_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn stationmap errors into a clean message and exit code 1, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except StationMapError as err:
            raise click.ClickException(str(err)) from err

    return wrapper


def _district_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add --district / --boundary / --boundary-crs, shared by every command that takes a district."""
    func = click.option("--boundary-crs", metavar="DATUM",
                        help="Datum of --boundary: wgs84, gcj02, bd09 or an EPSG code (required with --boundary).")(func)
    func = click.option("--boundary", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                        help="District boundary file (GeoJSON, shapefile, GeoPackage) for a district not bundled.")(func)
    return click.option("--district", "district_code", metavar="ADCODE",
                        help="Bundled district by 6-digit adcode, e.g. 610111 (灞桥区).")(func)


def _settings(ctx: click.Context) -> Settings:
    return ctx.obj


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), envvar="STATIONMAP_DATA_DIR",
              help="Data folder with stations/ and boundaries/ (default: the bundled data).")
@click.version_option(package_name="stationmap")
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None) -> None:
    """Service map for trade-union outdoor-worker service stations (工会户外劳动者服务站点)."""
    ctx.obj = Settings.from_env().replace(data_dir=data_dir)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@_district_options
@click.option("--strict", is_flag=True, help="Fail on warnings too (outside district, possible duplicate ...).")
@click.option("--duplicate-m", type=click.FloatRange(min=0), default=stations.DEFAULT_DUPLICATE_M, show_default=True,
              help="Stations closer than this many metres are flagged as possible duplicates.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
@_domain_errors
def validate(ctx: click.Context, files: tuple[Path, ...], district_code: str | None, boundary: Path | None,
             boundary_crs: str | None, strict: bool, duplicate_m: float, fmt: str) -> None:
    """Check every record of station FILES and print every problem at once."""
    settings = _settings(ctx)
    chosen = district_mod.resolve_district(adcode=district_code, boundary=boundary, boundary_crs=boundary_crs,
                                           data_dir=settings.data_dir)
    failed = False
    reports = []
    for path in files:
        doc = stations.read_feature_collection(path)
        bounds = _boundaries_for(doc, chosen, settings)
        report = stations.validate_features(doc, districts=bounds, duplicate_m=duplicate_m, source=str(path))
        reports.append(report)
        failed |= not report.ok(strict=strict)
        if fmt == "text":
            click.echo(report.message())
    if fmt == "json":
        click.echo(json.dumps([{"source": r.source, "records": r.n_records, "ok": r.ok(strict=strict),
                                "problems": [p.to_dict() for p in r.problems]} for r in reports],
                              ensure_ascii=False, indent=1))
    if failed:
        ctx.exit(1)


def _boundaries_for(doc: dict[str, Any], chosen: district_mod.District | None, settings: Settings) -> dict:
    """Boundaries to check against: the one named on the command line, else the bundled ones the file uses."""
    if chosen is not None:
        codes = {f.get("properties", {}).get("district_code") for f in doc["features"] if isinstance(f, dict)
                 and isinstance(f.get("properties"), dict)}
        code = chosen.adcode or next((c for c in codes if isinstance(c, str)), "")
        return {code: chosen.geometry}
    bundled = set(district_mod.bundled_adcodes(settings.data_dir))
    codes = {(f.get("properties") or {}).get("district_code") for f in doc["features"] if isinstance(f, dict)}
    return {c: district_mod.load_district(c, data_dir=settings.data_dir).geometry for c in codes if c in bundled}


@main.command("import")
@click.argument("table", type=click.Path(path_type=Path))
@click.option("--crs", "crs", metavar="DATUM", help="Datum of the table's coordinates: wgs84, gcj02 (Amap/Tencent) "
              "or bd09 (Baidu). Required: it is never guessed.")
@_district_options
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Output file (.geojson, .gpkg, .csv or .xlsx).")
@click.option("--map", "column_map", multiple=True, metavar="HEADER=FIELD",
              help="Read column HEADER into FIELD (repeatable), for unusual headers.")
@click.option("--sheet", help="XLSX sheet name (default: the first).")
@click.pass_context
@_domain_errors
def import_(ctx: click.Context, table: Path, crs: str | None, district_code: str | None, boundary: Path | None,
            boundary_crs: str | None, output: Path, column_map: tuple[str, ...], sheet: str | None) -> None:
    """Import a clerk's CSV/XLSX TABLE (Chinese or English headers) into WGS-84 station records."""
    settings = _settings(ctx)
    chosen = district_mod.resolve_district(adcode=district_code, boundary=boundary, boundary_crs=boundary_crs,
                                           data_dir=settings.data_dir)
    result = importer.import_table(table, crs=crs, district=chosen, column_map=importer.parse_column_map(column_map),
                                   sheet=sheet)
    for problem in result.report.problems:
        click.echo(str(problem), err=True)
    mapped = ", ".join(f"{src} -> {dst}" for src, dst in result.column_mapping.items())
    click.echo(f"columns: {mapped}", err=True)
    stations.export_stations(result.stations, output)
    click.echo(f"imported {len(result.stations)} stations from {table.name} ({result.datum} -> wgs84), "
               f"{len(result.report.warnings)} warnings; wrote {output}")


@main.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Output file; its suffix picks the format unless --format is given.")
@click.option("--format", "fmt", type=click.Choice(stations.EXPORT_FORMATS), help="Output format.")
@click.option("--datum", type=click.Choice(["wgs84", "gcj02", "bd09"]), default="wgs84", show_default=True,
              help="Output datum; gcj02 for Amap users, bd09 for Baidu users.")
@click.option("--headers", type=click.Choice(["en", "zh"]), default="en", show_default=True,
              help="Column headers of CSV/XLSX output.")
@click.pass_context
@_domain_errors
def export(ctx: click.Context, source: Path, output: Path, fmt: str | None, datum: str, headers: str) -> None:
    """Export the stations of SOURCE (GeoJSON or GeoPackage) to GeoJSON, GeoPackage, CSV or XLSX."""
    frame = stations.load_stations(source)
    stations.export_stations(frame, output, fmt=fmt, datum=datum, headers=headers)
    click.echo(f"wrote {len(frame)} stations to {output} ({datum})")


@main.command()
@click.option("--district", "district_code", metavar="ADCODE", help="Bundled district by adcode (default: all bundled).")
@click.option("--stations", "station_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Station file to rate instead of the bundled data.")
@click.option("--rubric", "rubric_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Rubric TOML (default: <data-dir>/rubric/stars-v1.toml); a district may supply its own.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True)
@click.option("--review-only", is_flag=True, help="Only stations recorded above the level they qualify for.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.pass_context
@_domain_errors
def stars(ctx: click.Context, district_code: str | None, station_file: Path | None, rubric_file: Path | None,
          fmt: str, review_only: bool, lang: str) -> None:
    """Rate stations against the star rubric: the level they qualify for, what is missing, review candidates."""
    settings = _settings(ctx)
    rules = rubric.load_rubric(rubric_file or rubric.default_rubric_path(settings.data_dir))
    folder = settings.data_dir / "stations"
    paths = ([station_file] if station_file else [folder / f"{district_code}.geojson"] if district_code
             else sorted(folder.glob("*.geojson")))
    frame = pd.concat([stations.load_stations(p) for p in paths], ignore_index=True)
    ratings = rating.rate_stations(frame, rules, lang=lang)
    summary_ = rating.summarize_ratings(ratings)
    shown = ratings[ratings["review_candidate"]] if review_only else ratings
    if fmt == "csv":
        click.echo(shown.to_csv(index=False), nl=False)
    elif fmt == "json":
        click.echo(json.dumps({"rubric": rules.version, "summary": summary_.to_dict(),
                               "stations": json.loads(shown.to_json(orient="records", force_ascii=False))},
                              ensure_ascii=False, indent=1))
    else:
        for row in shown.itertuples():
            click.echo(f"{row.station_id} {row.name}: {row.headline}")
        name = rules.name_zh if lang == "zh" else rules.name_en
        click.echo(f"{name} {rules.version}: {summary_.describe(lang=lang)}")


@main.command()
@click.pass_context
@_domain_errors
def summary(ctx: click.Context) -> None:
    """Validate the bundled districts and print a summary of each."""
    settings = _settings(ctx)
    failed = False
    for code in district_mod.bundled_adcodes(settings.data_dir):
        district = district_mod.load_district(code, data_dir=settings.data_dir)
        path = settings.data_dir / "stations" / f"{code}.geojson"
        if not path.is_file():
            click.echo(f"{code} {district.name}: no station file")
            continue
        report = stations.validate_stations(path, districts={code: district.geometry})
        frame = stations.stations_from_features(stations.read_feature_collection(path)["features"])
        stars = frame["stars"].value_counts().sort_index()
        honours = sum(len(h) for h in frame["honours"])
        click.echo(f"{code} {district.city}{district.name}: {len(frame)} stations; stars "
                   + " ".join(f"{int(s)}★{n}" for s, n in stars.items())
                   + f"; 24/7: {(frame['opening_hours'] == '24/7').sum()}; honours: {honours}; "
                   + f"{len(report.errors)} errors, {len(report.warnings)} warnings")
        failed |= not report.ok()
    click.echo("Demo data: station locations are illustrative, not an official register. "
               "示意数据：站点位置为示意，并非官方登记名录。")
    if failed:
        ctx.exit(1)
