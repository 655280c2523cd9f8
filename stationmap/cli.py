"""The ``stationmap`` command line: thin click commands over the package's functions.

Exit codes: 0 success, 1 bad data or a failed check (with a precise message), 2 bad usage: a missing, malformed or
out-of-range option (click's own), an unknown district, a missing or unknown datum, a bad ``STATIONMAP_*``
setting. Options with limits are declared by their `stationmap.parameters` spec (`_spec_option`), so their type,
range, default and help are the ones the web API enforces and documents.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import click
import pandas as pd

from stationmap import districts as district_mod
from stationmap import geo, hours, importer, membership, register_update, retention, rubric, stations, validation
from stationmap.analysis import rating
from stationmap.config import Settings
from stationmap.errors import (
    BadRequestError,
    DatumError,
    DistrictLookupError,
    EmptyInputError,
    StationDataError,
    StationMapError,
)
from stationmap.parameters import (
    AT,
    BAND_EDGES_M,
    BY,
    CELL_M,
    DATUMS,
    DUPLICATE_M,
    FEEDBACK_DISTRICT,
    GRID_M,
    HEADLINE_RADIUS_M,
    LANGS,
    LAT,
    LON,
    MAX_REQUEST_BYTES,
    MIN_AREA_M2,
    MINUTES,
    MODE,
    PORT,
    RADIUS_M,
    REPORT_RADII_M,
    REPORT_SITES,
    SCHEDULER,
    SITES_K,
    STREET_BUFFER_M,
    TIME_LIMIT_S,
    TOP,
    WORKERS,
    ParamSpec,
)
from stationmap.store import FEEDBACK_STATES

__all__ = ["main"]


def _domain_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn stationmap errors into a clean message and exit code 1 (2 for usage), never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (DistrictLookupError, DatumError) as err:
            # the user named a district that is not there (or several are), or left out or misnamed the datum of
            # a file (--crs, --boundary-crs, --demand-crs): usage, whatever the files hold
            raise click.UsageError(str(err)) from err
        except StationMapError as err:
            raise click.ClickException(str(err)) from err

    return wrapper


# --------------------------------------------------------------------------------------------------------------
# option types: every value is read and checked while the command line is parsed, so a bad one exits 2


class _Checked(click.ParamType):
    """Read an option as its `ParamSpec` declares; a malformed or out-of-range value is a usage error."""

    def __init__(self, spec: ParamSpec, *, many: bool = False) -> None:
        self.spec, self.many = spec, many
        self.name = f"{spec.type}[,{spec.type}...]" if many else spec.type

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):  # a default declared in the spec, or a value converted already
            return value
        texts = [t for t in value.split(",") if t.strip()] if self.many else [value]
        values = []
        for text in texts:
            problem = self.spec.problem(text)
            if problem is not None:
                self.fail(problem, param, ctx)
            values.append(self.spec.parse(text))
        return tuple(values) if self.many else values[0]


class _When(click.ParamType):
    """A time of day ``HH:MM`` (Asia/Shanghai) or an ISO 8601 date-time, checked now; ``any`` means none."""

    name = "time"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = str(value).strip()
        if text.lower() in ("", "any"):
            return None
        try:
            hours.resolve_when(text)
        except BadRequestError as err:
            self.fail(f"{err}; expected HH:MM (Asia/Shanghai), an ISO 8601 date-time or 'any'", param, ctx)
        return text  # the analysis reads it against the clock when it runs


class _LonLat(click.ParamType):
    """A point ``LON,LAT`` in WGS-84 degrees, each within `LON` / `LAT`."""

    name = "lon,lat"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        parts = str(value).split(",")
        if len(parts) != 2:
            self.fail(f"takes LON,LAT in WGS-84 degrees, e.g. 109.06,34.27; got {value!r}", param, ctx)
        problems = [f"{word} {problem}" for word, spec, text in zip(("longitude", "latitude"), (LON, LAT), parts)
                    if (problem := spec.problem(text)) is not None]
        if problems:
            self.fail(f"{'; '.join(problems)} (in {value!r}, LON,LAT in WGS-84 degrees)", param, ctx)
        return LON.parse(parts[0]), LAT.parse(parts[1])


class _Datum(click.ParamType):
    """A coordinate datum (wgs84, gcj02, bd09 or an alias) or, where `epsg`, any CRS pyproj reads (EPSG:32649)."""

    name = "datum"

    def __init__(self, *, epsg: bool) -> None:
        self.epsg = epsg

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = str(value).strip()
        try:
            geo.parse_datum(text)
            return text
        except DatumError:
            pass
        if self.epsg:
            import pyproj

            try:
                pyproj.CRS.from_user_input(text)
                return text
            except pyproj.exceptions.CRSError:
                pass
        also = " or an EPSG code such as EPSG:32649" if self.epsg else ""
        self.fail(f"expected wgs84, gcj02 (Amap, Tencent) or bd09 (Baidu){also}; got {value!r}", param, ctx)


def _spec_option(spec: ParamSpec, *decls: str, many: bool = False, **options: Any) -> Callable[..., Any]:
    """
    Return a click option declared by `spec`: its type, range check, default and help come from the spec.

    `decls` default to ``spec.option`` (``--radius-m``); `many` reads a comma list (with ``multiple=True``, a
    repeatable one). `options` override the spec's default and help or pass click settings such as ``metavar``.
    """
    options.setdefault("default", None if many else spec.default)
    options.setdefault("show_default", options["default"] is not None)
    options.setdefault("help", spec.help_text())
    return click.option(*(decls or (spec.option,)), type=_Checked(spec, many=many), **options)


_DEFAULT_RADIUS = f"{RADIUS_M.default:g} m, or STATIONMAP_DEFAULT_RADIUS_M"


def _district_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add --district / --boundary / --boundary-crs, shared by every command that takes a district."""
    func = click.option("--boundary-crs", metavar="DATUM", type=_Datum(epsg=True),
                        help="Datum of --boundary: wgs84, gcj02, bd09 or an EPSG code (required with --boundary).")(func)
    func = click.option("--boundary", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                        help="District boundary file (GeoJSON, shapefile, GeoPackage) for a district not bundled.")(func)
    return click.option("--district", "district_code", metavar="NAME",
                        help="District by adcode or Chinese name: 440106, 天河区, '广州市 天河区'; a city or province "
                             "(广州市) means its districts side by side. With --boundary: the adcode to give it.")(func)


_REGISTER_META = "stationmap.register"


def _remember_register(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Keep --database / --as-of for `_loaded_stations` (they say where the stations come from, not what to do)."""
    if value:
        ctx.meta.setdefault(_REGISTER_META, {})[param.name] = value
    return value


def _stations_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add --stations, --database and --as-of: the stations an analysis works on."""
    func = click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), metavar="YYYY-MM-DD",
                        expose_value=False, callback=_remember_register,
                        help="The register as it was at the end of this day (China time): stations added later "
                             "left out, edits made later undone.")(func)
    func = click.option("--database", "database_url", metavar="URL", envvar="STATIONMAP_DATABASE_URL",
                        expose_value=False, callback=_remember_register,
                        help="Read the stations from the register's database (sqlite:///r.db, postgresql://...); "
                             "with --stations FILES, the register serve keeps for those files.")(func)
    return click.option("--stations", "stations_paths", multiple=True,
                        type=click.Path(exists=True, path_type=Path),
                        help="The union's register: station GeoJSON file(s) or a folder of them, repeatable "
                             "(default: the bundled data/stations/<adcode>.geojson).")(func)


def _loaded_stations(paths: tuple[Path, ...]) -> Any:
    """
    The stations an analysis command works on: the register's database (--database / --as-of), else the station
    files, else None (the caller takes the bundled ones).
    """
    ctx = click.get_current_context()
    wanted = ctx.meta.get(_REGISTER_META)
    if not wanted:
        return _read_stations(paths) if paths else None
    store = _open_register(ctx, wanted.get("database_url"), paths)
    day = wanted.get("as_of")
    moment = hours.day_end_utc(day.date()) if day is not None else None
    snapshot = store.snapshot(as_of=moment)
    when = f"at the end of {day:%Y-%m-%d}" if day is not None else "now"
    if not snapshot.records:
        msg = f"The register held no station {when}; its history starts later (see stationmap history)."
        raise EmptyInputError(msg)
    frame = stations.stations_from_features([r.feature for r in snapshot.records],
                                            snapshot.metadata[0] if snapshot.metadata else None)
    n_closed = sum(r.status == "closed" for r in snapshot.records)
    click.echo(f"register: {len(frame)} stations {when} ({n_closed} closed), revision {snapshot.revision}",
               err=True)
    return frame


def _database_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add --database, shared by every command that reads or changes the living register."""
    return click.option("--database", "database_url", metavar="URL", envvar="STATIONMAP_DATABASE_URL",
                        help="The register's database: sqlite:///register.db or postgresql://user@host/db "
                             "(default: the register of the station files given, or of the bundled demo, under "
                             "~/.local/share/stationmap).")(func)


def _open_register(ctx: click.Context, database_url: str | None, stations_paths: tuple[Path, ...] = ()) -> Any:
    """
    Open the register `serve` would serve with the same --database and station files (a `store.Store`).

    A database named with --database is opened as it is (a new one stays empty until `serve` or `import --into`
    fills it); the register kept for station files (or the demo) is filled on first use, as `serve` does.
    """
    from stationmap.seeding import open_register

    settings = _settings(ctx).replace(database_url=database_url or None,
                                      stations=tuple(p.resolve() for p in stations_paths) or None)
    store = open_register(settings, fill=not settings.database_url)
    ctx.call_on_close(store.close)  # connection pools are closed by the command, never left to the collector
    return store


def _settings(ctx: click.Context) -> Settings:
    return ctx.obj


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), envvar="STATIONMAP_DATA_DIR",
              help="Data folder with stations/ and boundaries/ (default: the bundled data).")
@click.version_option(package_name="stationmap")
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None) -> None:
    """Service map for trade-union outdoor-worker service stations (工会户外劳动者服务站点)."""
    try:
        ctx.obj = Settings.from_env().replace(data_dir=data_dir)
    except StationMapError as err:  # a STATIONMAP_* variable the command runs with is malformed or out of range
        raise click.UsageError(str(err)) from err


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@_district_options
@click.option("--strict", is_flag=True, help="Fail on warnings too (outside district, possible duplicate ...).")
@_spec_option(DUPLICATE_M)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
@_domain_errors
def validate(ctx: click.Context, files: tuple[Path, ...], district_code: str | None, boundary: Path | None,
             boundary_crs: str | None, strict: bool, duplicate_m: float, fmt: str) -> None:
    """Check every record of station FILES and print every problem at once.

    Each station is checked against the district its record names (district_code / district) and, with
    --district or --boundary, against that district too.
    """
    settings = _settings(ctx)
    chosen = district_mod.resolve_district(adcode=district_code, boundary=boundary, boundary_crs=boundary_crs,
                                           data_dir=settings.data_dir, cache_dir=settings.cache_dir)
    failed = False
    reports = []
    for path in files:
        doc = stations.read_feature_collection(path)
        report = _with_membership(validation.validate_features(doc, duplicate_m=duplicate_m, source=str(path)),
                                  membership.check_features(doc, within=chosen, data_dir=settings.data_dir,
                                                            cache_dir=settings.cache_dir))
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


def _with_membership(report: validation.ValidationReport,
                     problems: list[validation.Problem]) -> validation.ValidationReport:
    """Merge the district-membership problems into `report`, dropping the older per-adcode "outside" warnings."""
    kept = validation.ValidationReport(tuple(p for p in report.problems if not validation.is_outside_district(p)),
                                     report.n_records, report.source)
    return membership.merge_problems(kept, problems)


@main.command("import")
@click.argument("table", type=click.Path(path_type=Path))
@click.option("--crs", "crs", metavar="DATUM", type=_Datum(epsg=False),
              help="Datum of the table's coordinates: wgs84, gcj02 (Amap/Tencent) or bd09 (Baidu). Required for a "
                   "CSV/XLSX table: it is never guessed. A GeoJSON/GeoPackage station file is WGS-84.")
@_district_options
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Output file (.geojson, .gpkg, .csv or .xlsx). Required unless --into is given; with both, the "
                   "file is written after the register is updated.")
@click.option("--map", "column_map", multiple=True, metavar="HEADER=FIELD",
              help="Read column HEADER into FIELD (repeatable), for unusual headers.")
@click.option("--sheet", help="XLSX sheet name (default: the first).")
@click.option("--encoding", metavar="CODEC",
              help="Encoding of a CSV table (e.g. gbk, big5, utf-8). Default: UTF-8 or GB18030 is detected; "
                   "anything else is refused rather than guessed.")
@click.option("--into", "into_url", metavar="DATABASE_URL",
              help="Update this register (sqlite:///register.db or postgresql://user@host/db) to what the table "
                   "says, as one changeset: stations added, changed, reopened, and those of the table's districts "
                   "missing from it closed. An empty database gets every station added.")
@click.option("--dry-run", is_flag=True, help="With --into: print what would change, change nothing, write nothing.")
@click.option("--comment", help="With --into: the changeset's comment (default: 'monthly update from <file name>').")
@click.option("--user", "user_name", metavar="NAME",
              help="With --into: the editor recorded on the edits (default: your login name).")
@click.option("--effective", "effective", type=click.DateTime(formats=["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="With --into: the day the changes took effect (from 00:00 China time), for as-of views; not "
                   "before a changed station's last edit. Default: now.")
@click.option("--allow-mass-close", is_flag=True,
              help="With --into: allow closing more than half of the open stations of the districts in scope.")
@click.pass_context
@_domain_errors
def import_(ctx: click.Context, table: Path, crs: str | None, district_code: str | None, boundary: Path | None,
            boundary_crs: str | None, output: Path | None, column_map: tuple[str, ...], sheet: str | None,
            encoding: str | None, into_url: str | None, dry_run: bool, comment: str | None, user_name: str | None,
            effective: Any, allow_mass_close: bool) -> None:
    """Import a clerk's CSV/XLSX TABLE (Chinese or English headers) into WGS-84 station records.

    With --into, bring a register up to date with TABLE (a CSV/XLSX table, or a GeoJSON/GeoPackage station file):
    stations are matched by id; only the fields the table has columns for are compared and written. Closing is
    limited to the districts the table's stations lie in (or those named with --district). Run with --dry-run
    first to see the list.
    """
    settings = _settings(ctx)
    _check_import_usage(table, crs=crs, output=output, into_url=into_url, dry_run=dry_run,
                        extras={"--comment": comment, "--user": user_name, "--effective": effective,
                                "--allow-mass-close": allow_mass_close or None})
    chosen = district_mod.resolve_district(adcode=district_code, boundary=boundary, boundary_crs=boundary_crs,
                                           data_dir=settings.data_dir, cache_dir=settings.cache_dir)
    if _is_station_file(table):
        _update_register(ctx, register_update.read_station_file(
            table, data_dir=settings.data_dir, cache_dir=settings.cache_dir, within=chosen), chosen, district_code,
            into_url=str(into_url), dry_run=dry_run, comment=comment, user_name=user_name, effective=effective,
            allow_mass_close=allow_mass_close)
        return
    # a city or province fills no district_code: its rows are placed in their county by location instead
    fill = chosen if chosen is None or chosen.level == "county" else None
    result = importer.import_table(table, crs=crs, district=fill, column_map=importer.parse_column_map(column_map),
                                   sheet=sheet, encoding=encoding,
                                   id_prefix=register_update.NO_ID_PREFIX if into_url else None)
    report = _with_membership(result.report, membership.check_stations(
        result.stations, where=list(result.rows), within=chosen, data_dir=settings.data_dir, cache_dir=settings.cache_dir))
    if report.errors:
        raise StationDataError(report.message(limit=100))
    for problem in report.problems:
        click.echo(str(problem), err=True)
    mapped = ", ".join(f"{src} -> {dst}" for src, dst in result.column_mapping.items())
    click.echo(f"columns: {mapped}", err=True)
    if into_url:
        source = register_update.source_from_import(result, data_dir=settings.data_dir, cache_dir=settings.cache_dir,
                                                    district=chosen, filled=fill is not None)
        _update_register(ctx, source, chosen, district_code, into_url=into_url, dry_run=dry_run, comment=comment,
                         user_name=user_name, effective=effective, allow_mass_close=allow_mass_close)
        if dry_run or output is None:
            return
    assert output is not None  # _check_import_usage: -o or --into
    stations.export_stations(result.stations, output)
    click.echo(f"imported {len(result.stations)} stations from {table.name} ({result.datum} -> wgs84); "
               f"{result.unmapped.describe()}; {len(report.warnings)} warnings; wrote {output}")


def _is_station_file(path: Path) -> bool:
    return path.suffix.lower() in (".geojson", ".json", ".gpkg")


def _check_import_usage(table: Path, *, crs: str | None, output: Path | None, into_url: str | None, dry_run: bool,
                        extras: dict[str, object]) -> None:
    """Refuse option combinations `import` cannot honour (exit 2): -o or --into, register options need --into."""
    if not output and not into_url:
        raise click.UsageError("Give -o OUTPUT (write the imported stations to a file) and/or --into DATABASE_URL "
                               "(update a register).")
    if not into_url:
        named = [name for name, value in extras.items() if value] + (["--dry-run"] if dry_run else [])
        if named:
            raise click.UsageError(f"{', '.join(named)} only go with --into DATABASE_URL (updating a register).")
    if _is_station_file(table):
        if not into_url or output:
            raise click.UsageError(f"{table.name} is a station file: import it into a register with --into; to "
                                   "convert it to another format, use stationmap export.")
        if crs and geo.parse_datum(crs) != "wgs84":
            raise click.UsageError(f"{table.name} is a station file, WGS-84 by definition (RFC 7946); --crs {crs} "
                                   "does not apply. Leave out --crs.")


def _update_register(ctx: click.Context, source: Any, chosen: Any, district_code: str | None, *, into_url: str,
                     dry_run: bool, comment: str | None, user_name: str | None, effective: Any,
                     allow_mass_close: bool) -> None:
    """Plan the update of the register at `into_url` from `source`, print it, and apply it unless `dry_run`."""
    import getpass

    from stationmap.store import open_store

    settings = _settings(ctx)
    scope = None
    if chosen is not None and chosen.adcode:
        scope = ([chosen.adcode] if chosen.level == "county" else
                 [d.adcode for d in district_mod.select_districts(str(district_code), data_dir=settings.data_dir,
                                                                   cache_dir=settings.cache_dir).districts])
    effective_at = None if effective is None else hours.day_start_utc(effective.date())
    with open_store(into_url) as store:
        plan = register_update.plan_update(store.snapshot(), source.features, source.codes, fields=source.fields,
                                           soft_fields=source.soft_fields, columns=source.columns,
                                           scope_districts=scope, source=source.name)
        click.echo(f"register update from {source.name} (register revision {plan.revision}):")
        click.echo(plan.describe(limit=None))
        problem = plan.mass_close_problem()
        if dry_run:
            if problem and not allow_mass_close:
                raise StationDataError(problem)
            click.echo("dry run: nothing was changed")
            return
        edits = register_update.apply_update(
            store, plan, user=user_name or getpass.getuser(),
            comment=comment or f"monthly update from {source.name}", effective_at=effective_at,
            allow_mass_close=allow_mass_close)
        if edits:
            click.echo(f"applied {len(edits)} edit(s) as changeset {edits[0].changeset_id}; register revision "
                       f"{store.revision()}")
        else:
            click.echo("nothing to apply: the register already holds the table")


@main.command()
@click.argument("source", type=click.Path(path_type=Path), required=False)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Output file; its suffix picks the format unless --format is given.")
@click.option("--format", "fmt", type=click.Choice(stations.EXPORT_FORMATS), help="Output format.")
@click.option("--datum", type=click.Choice(DATUMS), default="wgs84", show_default=True,
              help="Output datum; gcj02 for Amap users, bd09 for Baidu users.")
@click.option("--headers", type=click.Choice(["en", "zh"]), default="en", show_default=True,
              help="Column headers of CSV/XLSX output.")
@click.option("--database", "database_url", metavar="URL", envvar="STATIONMAP_DATABASE_URL",
              expose_value=False, callback=_remember_register,
              help="Export the register's database instead of a file: every station, closed ones included.")
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              expose_value=False, callback=_remember_register,
              help="With --database: the register as it was at the end of this day (China time).")
@click.pass_context
@_domain_errors
def export(ctx: click.Context, source: Path | None, output: Path, fmt: str | None, datum: str, headers: str) -> None:
    """Export the stations of SOURCE (GeoJSON or GeoPackage), or of the register (--database), to GeoJSON,
    GeoPackage, CSV or XLSX."""
    from_register = bool(ctx.meta.get(_REGISTER_META))
    if (source is not None) == from_register:  # both, or neither
        raise click.UsageError("Give SOURCE (a station file) or --database URL (a register), one of them.")
    frame = _loaded_stations(()) if source is None else stations.load_stations(source)
    stations.export_stations(frame, output, fmt=fmt, datum=datum, headers=headers)
    click.echo(f"wrote {len(frame)} stations to {output} ({datum})")


@main.command()
@click.argument("station_id")
@_database_option
@click.option("--stations", "stations_paths", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="The station files whose register serve keeps (when no --database is given).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
@_domain_errors
def history(ctx: click.Context, station_id: str, database_url: str | None, stations_paths: tuple[Path, ...],
            fmt: str) -> None:
    """Show every edit of station STATION_ID: who, when (China time), why, and what changed."""
    store = _open_register(ctx, database_url, stations_paths)
    edits = store.history(station_id)
    if fmt == "json":
        _echo_json({"station_id": station_id, "version": edits[-1].version, "edits": [e.to_json() for e in edits]})
        return
    current = store.get(station_id)
    click.echo(f"{station_id} {current.feature['properties'].get('name', '')}: version {current.version}, "
               f"{current.status}, {len(edits)} edit(s)")
    for edit in edits:
        when = edit.recorded_at.astimezone(hours.TZ).strftime("%Y-%m-%d %H:%M")
        effective = edit.effective_at.astimezone(hours.TZ).strftime("%Y-%m-%d")
        dated = "" if effective == when[:10] else f", effective {effective}"
        reverts = f" of edit {edit.reverts}" if edit.reverts else ""
        comment = f": {edit.comment}" if edit.comment else ""
        click.echo(f"#{edit.edit_id} v{edit.version} {when}{dated} {edit.action}{reverts} by {edit.user}{comment}")
        if edit.before is not None:
            for change in register_update.field_changes(edit.before, edit.after):
                click.echo(f"    {change.describe()}")


@main.command()
@_database_option
@click.option("--stations", "stations_paths", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="The station files whose register serve keeps (when no --database is given).")
@click.option("--lang", type=click.Choice(LANGS), default="zh", show_default=True)
@click.pass_context
@_domain_errors
def prune(ctx: click.Context, database_url: str | None, stations_paths: tuple[Path, ...], lang: str) -> None:
    """Forget personal data and old rows past their retention periods (the server does it at start; run daily)."""
    store = _open_register(ctx, database_url, stations_paths)
    click.echo(retention.prune(store).describe(lang))


@main.command()
@click.option("--district", "district_code", metavar="NAME",
              help="District, city or province by adcode or name (default: every station loaded).")
@_stations_option
@click.option("--rubric", "rubric_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Rubric TOML (default: <data-dir>/rubric/stars-v1.toml); a district may supply its own.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True)
@click.option("--review-only", is_flag=True, help="Only stations recorded above the level they qualify for.")
@click.option("--lang", type=click.Choice(LANGS), default="zh", show_default=True)
@click.pass_context
@_domain_errors
def stars(ctx: click.Context, district_code: str | None, stations_paths: tuple[Path, ...], rubric_file: Path | None,
          fmt: str, review_only: bool, lang: str) -> None:
    """Rate stations against the star rubric: the level they qualify for, what is missing, review candidates."""
    settings = _settings(ctx)
    rules = rubric.load_rubric(rubric_file or rubric.default_rubric_path(settings.data_dir))
    if district_code:
        _selection, parts, _frame = _planner_inputs(settings, district_code, None, None, stations_paths)
        frame = pd.concat([part for _, part in parts], ignore_index=True)
    else:
        loaded = _loaded_stations(stations_paths)
        frame = loaded if loaded is not None else _read_stations((settings.data_dir / "stations",))
    triggers = _feedback_triggers(ctx, stations_paths, frame, rules)
    ratings = rating.rate_stations(frame, rules, lang=lang, triggers=triggers)
    summary_ = rating.summarize_ratings(ratings)
    shown = ratings[ratings["review_candidate"]] if review_only else ratings
    fired = {} if triggers is None else {str(sid): triggers[str(sid)] for sid in shown["station_id"]
                                         if str(sid) in triggers}
    if triggers is None:
        note = ("工人报告：不可用（站点来自文件；用 --database 读取登记库）" if lang == "zh"
                else "workers' reports: not available (stations read from files; give --database)")
    else:
        note = (f"工人报告：{len(fired)}个站点触发降星" if lang == "zh"
                else f"workers' reports: {len(fired)} station(s) trigger a downgrade")
    if fmt == "csv":
        click.echo(shown.to_csv(index=False), nl=False)
        click.echo(note, err=True)
    elif fmt == "json":
        click.echo(json.dumps({"rubric": rules.version, "summary": summary_.to_dict(),
                               "stations": json.loads(shown.to_json(orient="records", force_ascii=False)),
                               "feedback_available": triggers is not None,
                               "feedback_triggers": {sid: [t.to_dict(lang=lang) for t in ts]
                                                     for sid, ts in fired.items()}},
                              ensure_ascii=False, indent=1))
    else:
        for row in shown.itertuples():
            click.echo(f"{row.station_id} {row.name}: {row.headline}")
            for trigger in fired.get(str(row.station_id), ()):
                click.echo(f"    {trigger.item.text(lang)}")
                for line in trigger.evidence(lang=lang):
                    click.echo(f"        {line}")
        name = rules.name_zh if lang == "zh" else rules.name_en
        click.echo(note)
        click.echo(f"{name} {rules.version}: {summary_.describe(lang=lang)}")


def _feedback_triggers(ctx: click.Context, paths: tuple[Path, ...], frame: Any,
                       rules: Any) -> dict[str, tuple[Any, ...]] | None:
    """
    The downgrade triggers workers' reports fire on `frame`'s stations, read from the register (--database /
    --as-of; the check is made at the end of the --as-of day, else now); None when the stations came from files.
    """
    read = _register_reports(ctx, paths, frame)
    return None if read is None else rating.feedback_triggers(read[0], rules, now=read[1])


def _register_reports(ctx: click.Context, paths: tuple[Path, ...], frame: Any) -> tuple[list[Any], Any] | None:
    """
    Workers' reports on `frame`'s stations from the register (--database / --as-of) and the moment they are
    judged at (the end of the --as-of day, else now); None when the stations came from files.
    """
    wanted = ctx.meta.get(_REGISTER_META)
    if not wanted:
        return None
    from stationmap.feedback import reports_on
    from stationmap.store import utc_now

    store = _open_register(ctx, wanted.get("database_url"), paths)
    day = wanted.get("as_of")
    now = hours.day_end_utc(day.date()) if day is not None else utc_now()
    codes = sorted({str(c) for c in frame["district_code"].dropna()}) if "district_code" in frame else None
    return reports_on(store, frame["id"], codes), now


@main.command()
@click.pass_context
@_domain_errors
def summary(ctx: click.Context) -> None:
    """Validate the bundled districts and print a summary of each; exit 1 when there is no data to summarise."""
    settings = _settings(ctx)
    codes = district_mod.bundled_adcodes(settings.data_dir)
    station_files = [settings.data_dir / "stations" / f"{code}.geojson" for code in codes]
    if not any(path.is_file() for path in station_files):
        found = "no district boundary" if not codes else "no station file"
        msg = (f"Found {found} in the data folder {str(settings.data_dir)!r} (expected boundaries/<adcode>.geojson "
               "and stations/<adcode>.geojson); set STATIONMAP_DATA_DIR or reinstall stationmap.")
        raise StationDataError(msg)
    failed = False
    for code in codes:
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


# --------------------------------------------------------------------------------------------------------------
# planner commands: coverage, gaps, site (issue 4)


def _radii(values: tuple[tuple[float, ...], ...], default: float) -> list[float]:
    """Flatten repeatable / comma-separated --radius-m values (read and checked by `RADIUS_M`) into metres."""
    return [radius for group in values for radius in group] or [default]


def _planner_inputs(settings: Settings, query: str | None, boundary: Path | None, boundary_crs: str | None,
                    station_paths: tuple[Path, ...], *, need_district: bool = True) -> tuple[Any, list[Any], Any]:
    """
    Resolve the district(s) and load their stations: the union's register (--stations) or the bundled files.

    Returns the selection (None without a district), one (district, its stations) pair per district, and all
    stations loaded.
    """
    selection = district_mod.resolve_selection(query, boundary=boundary, boundary_crs=boundary_crs,
                                               data_dir=settings.data_dir, cache_dir=settings.cache_dir)
    if selection is None:
        if need_district:
            raise click.UsageError("Name the district with --district (adcode or name, e.g. 440106 or 天河区), "
                                   "or give --boundary FILE --boundary-crs DATUM.")
        loaded = _loaded_stations(station_paths)
        if loaded is None:
            raise click.UsageError("Give the stations with --stations FILE or --database URL.")
        return None, [], loaded
    loaded = _loaded_stations(station_paths)
    frame = loaded if loaded is not None else _bundled_stations(settings, selection.districts, selection.name)
    codes = district_mod.assign_districts(frame, data_dir=settings.data_dir, cache_dir=settings.cache_dir,
                                          known={d.adcode: d for d in selection.districts if d.adcode}).codes
    return selection, [(d, district_mod.stations_of(frame, d, codes)) for d in selection.districts], frame


def _read_stations(paths: tuple[Path, ...]) -> Any:
    """Load station files (a folder means its *.geojson) into one frame."""
    import geopandas as gpd

    files = [f for p in paths for f in (sorted(p.glob("*.geojson")) if p.is_dir() else [p])]
    if not files:
        raise click.UsageError(f"No station files (*.geojson) in {', '.join(map(str, paths))}.")
    frames = [stations.load_stations(f) for f in files]
    if len(frames) == 1:
        return frames[0]
    frame = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=frames[0].crs)
    frame.attrs = {"metadata": frames[0].attrs.get("metadata", {})}
    return frame


def _bundled_stations(settings: Settings, districts: Any, label: str) -> Any:
    paths = tuple(p for d in districts if (p := settings.data_dir / "stations" / f"{d.adcode}.geojson").is_file())
    if not paths:
        raise click.UsageError(f"No bundled stations for {label}; give the union's register with "
                               "--stations FILE (see 'stationmap import').")
    return _read_stations(paths)


def _region_of(parts: list[Any]) -> Any:
    """The districts' union (WGS-84), which OSM demand and candidates are clipped to; None without a district."""
    import shapely

    return shapely.union_all([d.geometry for d, _ in parts]) if parts else None


def _inside(frame: Any, region: Any) -> Any:
    """The points of `frame` (EPSG:4326) inside `region`, a WGS-84 geometry: one district's OSM candidates."""
    import shapely

    return frame[shapely.contains_xy(region, frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy())]


def _check_demand_usage(path: Path | None, osm_path: Path | None) -> None:
    if path is not None and osm_path is not None:
        raise click.UsageError("--demand and --demand-osm are two demand sources; give one of them.")


def _demand_and_source(path: Path | None, weight_col: str | None, demand_crs: str | None, osm_path: Path | None,
                       parts: list[Any]) -> tuple[Any, str | None]:
    """The demand of --demand or --demand-osm, and the words naming it in the answer (None without demand)."""
    from stationmap.demand import read_planning_inputs

    _check_demand_usage(path, osm_path)
    read = read_planning_inputs(demand=path, weight_col=weight_col, demand_crs=demand_crs, demand_osm=osm_path,
                                region=_region_of(parts) if osm_path is not None else None)
    return read.demand, None if read.demand_from is None else read.demand_from.text


def _check_candidates_usage(path: Path | None, osm_path: Path | None) -> None:
    if path is not None and osm_path is not None:
        raise click.UsageError("--candidates and --candidates-osm are two candidate sources; give one of them.")


def _candidates_and_source(path: Path | None, crs: str | None, osm_path: Path | None,
                           parts: list[Any]) -> tuple[Any, str | None]:
    """The candidate sites of --candidates or --candidates-osm, and the words naming them (None: in the gaps)."""
    from stationmap.demand import read_planning_inputs

    _check_candidates_usage(path, osm_path)
    read = read_planning_inputs(candidates=path, candidates_crs=crs, candidates_osm=osm_path,
                                region=_region_of(parts) if osm_path is not None else None)
    return read.candidates, None if read.candidates_from is None else read.candidates_from.text


def _stderr_bar(length: int, label: str) -> Any:
    import sys

    return click.progressbar(length=length, label=label, file=sys.stderr)  # stdout stays clean for JSON


def _demand_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add --demand, --weight-col, --demand-crs and --demand-osm (coverage, gaps, site, report)."""
    options = [
        click.option("--demand", "demand_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Demand points or polygons (population grid, depots, hubs) with a weight column."),
        click.option("--weight-col", help="Weight column of --demand (default: 'weight', else 1 per feature)."),
        click.option("--demand-crs", metavar="DATUM", type=_Datum(epsg=True),
                     help="Datum of a CSV --demand file (wgs84, gcj02, bd09 or an EPSG code)."),
        click.option("--demand-osm", "demand_osm_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="OSM extract (.osm, .osm.pbf): demand = its walkable street length + worker hot spots "
                          "inside the district (weights in docs/planner.md). Not together with --demand."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _candidates_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add --candidates, --candidates-osm and --candidates-crs (site, report)."""
    options = [
        click.option("--candidates", "candidates_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Candidate sites (host institutions: banks, post offices, petrol stations, community "
                          "centres); default: points generated inside the gaps."),
        click.option("--candidates-osm", "candidates_osm_path",
                     type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="OSM extract: candidates = its banks, post offices, fuel stations, community centres, town "
                          "halls, public toilets, pharmacies, social facilities and government offices inside the "
                          "district. Not together with --candidates."),
        click.option("--candidates-crs", metavar="DATUM", type=_Datum(epsg=True),
                     help="Datum of a CSV --candidates file (wgs84, gcj02, bd09 or an EPSG code)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _planner_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by coverage, gaps and site."""
    func = _demand_options(func)
    func = click.option("--at", "at", metavar="HH:MM", type=_When(),
                        help=f"{AT.description} E.g. 05:00, when sanitation shifts start.")(func)
    return _stations_option(func)


def _fmt_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--format", "fmt", type=click.Choice(["text", "json", "geojson", "csv"]), default="text",
                        show_default=True, help="Output: a table, JSON, GeoJSON (geometries) or CSV.")(func)


def _km2(value: float | None) -> str:
    return "-" if value is None else f"{value / 1e6:,.2f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=1, allow_nan=False))


def _echo_csv(rows: list[dict[str, Any]]) -> None:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else [], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    click.echo(buffer.getvalue(), nl=False)


def _coverage_row(report: Any) -> dict[str, Any]:
    d = report.to_dict()
    row = {k: d[k] for k in ("region_name", "radius_m", "distance_model", "crs", "when", "n_stations", "n_used",
                              "region_area_m2", "covered_area_m2", "pct_area_covered", "covered_twice_area_m2",
                              "pct_area_covered_twice", "street_length_m", "street_length_covered_m",
                              "street_length_covered_twice_m")}
    demand = d["demand"] or {}
    row.update({"demand_total": demand.get("total"), "demand_covered": demand.get("covered"),
                "demand_pct_covered": demand.get("pct_covered"),
                "demand_pct_covered_twice": demand.get("pct_covered_twice")})
    return row


def _coverage_table(reports: list[Any]) -> None:
    if len({r.region_name for r in reports}) > 1:
        _coverage_side_by_side(reports)
        return
    first = reports[0]
    where = first.region_name or "stations' extent"
    click.echo(f"Coverage of {where} ({first.crs}; {first.n_stations} stations"
               + (f", open at {first.when}" if first.when else "") + ")")
    click.echo(f"{'radius':>8} {'model':<13} {'stations':>8} {'covered km²':>12} {'share':>7} "
               f"{'≥2 km²':>10} {'share':>7} {'demand':>8} {'≥2':>7}")
    for r in reports:
        demand = r.demand
        click.echo(f"{r.radius_m:>7g}m {r.distance_model:<13} {r.n_used:>8} {_km2(r.covered_area_m2):>12} "
                   f"{_pct(r.pct_area_covered):>7} {_km2(r.covered_twice_area_m2):>10} "
                   f"{_pct(r.pct_area_covered_twice):>7} {_pct(demand.pct_covered if demand else None):>8} "
                   f"{_pct(demand.pct_covered_twice if demand else None):>7}")
    if first.region_area_m2:
        click.echo(f"district area {_km2(first.region_area_m2)} km²")
    for r in reports:
        for rec in (r.demand.largest_uncovered[:5] if r.demand else ()):
            near = (f"more than {r.radius_m:g} m from any station" if rec["nearest_station_m"] is None else
                    f"nearest station {rec['nearest_station_id']} {rec['nearest_station_m']:,.0f} m")
            click.echo(f"  uncovered at {r.radius_m:g} m ({r.distance_model}): {rec['id']} weight "
                       f"{rec['uncovered']:,.0f} at {rec['lon']:.5f},{rec['lat']:.5f}, {near}")
    for note in dict.fromkeys(n for r in reports for n in r.notes):
        click.echo(f"note: {note}")


def _coverage_side_by_side(reports: list[Any]) -> None:
    """One row per district and radius, the districts of a city or province side by side."""
    width = max(_display_width(r.region_name or "") for r in reports) + 2
    when = reports[0].when
    click.echo(f"Coverage of {len({r.region_name for r in reports})} areas" + (f", open at {when}" if when else ""))
    click.echo(f"{_ljust('district', width)}{'radius':>8} {'model':<13} {'stations':>8} {'area km²':>10} "
               f"{'covered':>8} {'≥2':>7} {'demand':>8}")
    for r in reports:
        click.echo(f"{_ljust(r.region_name or '', width)}{r.radius_m:>7g}m {r.distance_model:<13} {r.n_used:>8} "
                   f"{_km2(r.region_area_m2):>10} {_pct(r.pct_area_covered):>8} {_pct(r.pct_area_covered_twice):>7} "
                   f"{_pct(r.demand.pct_covered if r.demand else None):>8}")
    empty = [r.region_name for r in reports if r.n_stations == 0]
    if empty:
        click.echo(f"no stations at all: {', '.join(dict.fromkeys(empty))}")
    for note in dict.fromkeys(n for r in reports for n in r.notes if not n.startswith("No stations in this")):
        click.echo(f"note: {note}")


def _display_width(text: str) -> int:
    """Terminal columns of `text`: Chinese characters take two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _ljust(text: str, width: int) -> str:
    return text + " " * max(0, width - _display_width(text))


def _minutes_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--minutes and --mode: a service circle in minutes of travel (coverage, site)."""
    func = _spec_option(MODE, default=None, show_default=False,
                        help="Travel mode of --minutes: walk (75 m/min), ebike (250 m/min) or drive (500 m/min); "
                             "default walk.")(func)
    return _spec_option(MINUTES, default=None, help=f"{MINUTES.help_text()} E.g. --minutes 15 --mode ebike.")(func)


_MODE_PHRASES = {"walk": "on foot", "ebike": "by e-bike", "drive": "by car"}


def _minutes_radius(minutes: int | None, mode: str | None, *, radius_given: bool,
                    network: bool = False) -> tuple[float, dict[str, Any]] | None:
    """
    Turn --minutes and --mode into a radius in metres and the words and fields that say so.

    The speeds are `stationmap.needs.MODES`'. None without --minutes; a usage error with --radius-m too, with
    --mode alone, or when the radius falls outside `RADIUS_M`.
    """
    from stationmap.needs import MODES

    if minutes is None:
        if mode is not None:
            raise click.UsageError("--mode sets the speed of --minutes; give --minutes too (e.g. --minutes 15).")
        return None
    if radius_given:
        raise click.UsageError("--minutes and --radius-m both set the service radius; give one of them.")
    travel = MODES[mode or "walk"]
    radius = float(minutes) * travel.speed_m_per_min
    if not RADIUS_M.accepts(radius):
        raise click.UsageError(f"--minutes {minutes} --mode {travel.key} is {radius:,.0f} m, outside the service "
                               f"radius range {RADIUS_M.range_text()}.")
    model = "along the streets" if network else "straight-line"
    words = (f"{minutes} min {_MODE_PHRASES.get(travel.key, travel.en)} ({radius:,.0f} m {model} at "
             f"{travel.speed_m_per_min:g} m/min)")
    return radius, {"minutes": minutes, "mode": travel.key, "speed_m_per_min": travel.speed_m_per_min,
                    "service_circle": words}


def _national_units(settings: Settings, query: str | None, boundary: Path | None, *,
                    forced: bool) -> tuple[str, list[Any]] | None:
    """
    The districts of a national run: 全国 (every province and county), a province (its counties), or with
    --scheduler/--workers any division; None for a city or district without them (the single-machine path).
    """
    import re

    from stationmap.analysis.national import NATION_NAMES, division_units
    from stationmap.gazetteer import cnmaps_gazetteer

    if boundary is not None or not query:
        if forced:
            raise click.UsageError("A run on Dask (--scheduler, --workers) needs --district 全国 or a division's "
                                   "name or adcode.")
        return None
    text = query.strip()
    if text not in NATION_NAMES and not forced:
        if re.fullmatch(r"\d{6}", text) and (settings.data_dir / "boundaries" / f"{text}.geojson").is_file():
            return None
        if cnmaps_gazetteer().resolve(text).level != "province":
            return None
    return division_units(text, data_dir=settings.data_dir, cache_dir=settings.cache_dir)


def _national_inputs(name: str, stations_paths: tuple[Path, ...], demand_path: Path | None, weight_col: str | None,
                     demand_crs: str | None) -> tuple[Any, Any]:
    """The stations (required) and the demand read tile by tile (or None) of a run on Dask over `name`."""
    from stationmap.demand_chunks import open_chunked_demand

    frame = _loaded_stations(stations_paths)
    if frame is None:
        raise click.UsageError(f"Give the stations of {name} with --stations FILE (or --database URL).")
    demand = (open_chunked_demand(demand_path, weight_col=weight_col, crs=demand_crs)
              if demand_path is not None else None)
    return frame, demand


def _coverage_national(national: tuple[str, list[Any]], stations_paths: tuple[Path, ...], *, radii: list[float],
                       at: str | None, demand_path: Path | None, weight_col: str | None, demand_crs: str | None,
                       scheduler: str, workers: int | None, fmt: str, extra: dict[str, Any]) -> None:
    """Coverage of 全国 or a province on Dask: the whole, then one row per province and county (with its adcode)."""
    import contextlib

    from stationmap.analysis.national import national_coverage, open_client

    name, units = national
    frame, demand = _national_inputs(name, stations_paths, demand_path, weight_col, demand_crs)
    results = []
    with open_client(scheduler, workers=workers) as client, contextlib.ExitStack() as stack:
        bars: list[Any] = []  # one bar per radius, made once the tiles are counted

        def new_bar(n: int, label: str) -> None:
            bars.append(stack.enter_context(_stderr_bar(n, label)))

        for radius in radii:
            results.append(national_coverage(
                frame, units, client=client, radius_m=radius, when=at, demand=demand, region_name=name,
                on_plan=functools.partial(new_bar, label=f"{radius:g} m tiles"),
                progress=lambda k: bars[-1].update(k)))
    said = {"demand_source": f"demand file {demand_path.name}"} if demand_path is not None else {}
    tops = [u.adcode for u in units if u.whole]
    whole = {"level": "nation", "adcode": "100000", "name": name}
    if fmt == "json":
        _echo_json([r.to_dict() | extra | said for r in results])
    elif fmt == "csv":
        rows = []
        for r in results:
            if len(tops) > 1:  # the nation: its own row, then each province's (a province's is its row)
                figures = _coverage_row(r.whole)
                rows.append({"radius_m": r.whole.radius_m} | whole | {"province": ""}
                            | {k: figures[k] for k in _UNIT_FIGURES})
            rows += [{"radius_m": r.whole.radius_m} | _unit_row(u) for u in r.units]
        _echo_csv([row | extra | said for row in rows])
    else:
        if extra:
            click.echo(f"service circle: {extra['service_circle']}")
        if said:
            click.echo(f"demand: {said['demand_source']}")
        _coverage_table([r.whole for r in results])
        for r in results:
            click.echo(f"\n{r.whole.radius_m:g} m, {len(r.units)} districts, {r.n_tiles} tiles of {r.tile_deg:g}° on "
                       f"{r.scheduler}")
            click.echo(f"{'adcode':<7} {_ljust('district', 24)}{'stations':>8} {'area km²':>10} {'covered':>8} "
                       f"{'≥2':>7} {'demand':>8}")
            for u in r.units:
                click.echo(f"{u.adcode:<7} {_ljust(u.name if u.level == 'county' else f'{u.name} (all)', 24)}"
                           f"{u.n_used:>8} {_km2(u.region_area_m2):>10} {_pct(u.pct_area_covered):>8} "
                           f"{_pct(u.pct_area_covered_twice):>7} {_pct(u.demand_pct_covered):>8}")


_UNIT_FIGURES = ("n_stations", "n_used", "region_area_m2", "covered_area_m2", "pct_area_covered",
                 "covered_twice_area_m2", "pct_area_covered_twice", "demand_total", "demand_covered",
                 "demand_pct_covered", "demand_pct_covered_twice")


def _unit_row(unit: Any) -> dict[str, Any]:
    """One CSV row of a national run's district (`stationmap.analysis.national.UnitCoverage`)."""
    d = unit.to_dict()
    return {"level": d["level"], "adcode": d["adcode"], "name": d["name"], "province": d["province"]} | {
        k: d[k] for k in _UNIT_FIGURES}


@main.command()
@_district_options
@_planner_options
@_spec_option(RADIUS_M, "--radius-m", "radius_values", many=True, multiple=True, metavar="M[,M...]",
              help=f"{RADIUS_M.help_text()} Repeatable or a comma list, e.g. 500,1000,1500. "
                   f"Default: {_DEFAULT_RADIUS}.")
@_minutes_options
@click.option("--osm", "osm_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="OSM extract (.osm, .osm.bz2, .osm.pbf): measure walking distance along its streets too.")
@_spec_option(STREET_BUFFER_M)
@_spec_option(SCHEDULER, default=None, help=f"{SCHEDULER.description} Default local for 全国 or a province.")
@_spec_option(WORKERS, default=None, help=f"{WORKERS.help_text()} Default: {WORKERS.default}.")
@_fmt_option
@click.pass_context
@_domain_errors
def coverage(ctx: click.Context, district_code: str | None, boundary: Path | None, boundary_crs: str | None,
             stations_paths: tuple[Path, ...], at: str | None, demand_path: Path | None, weight_col: str | None,
             demand_crs: str | None, demand_osm_path: Path | None, radius_values: tuple[tuple[float, ...], ...],
             minutes: int | None,
             mode: str | None, osm_path: Path | None, street_buffer_m: float, scheduler: str | None,
             workers: int | None, fmt: str) -> None:
    """Share of a district's area (and demand) within reach of a station, covered once and twice.

    A city or province gives one row per district and one for all of them together. --minutes 15 --mode walk
    gives the 15-minute circle (minutes x the mode's speed; along the streets with --osm). --district 全国 or a
    province runs on Dask (--scheduler, --workers; docs/national.md), with one row per county; its --demand may be
    a GeoTIFF or GeoParquet of cells, which the workers read window by window."""
    from stationmap import analysis
    from stationmap.network import read_walk_network

    settings = _settings(ctx)
    timed = _minutes_radius(minutes, mode, radius_given=bool(radius_values), network=osm_path is not None)
    _check_demand_usage(demand_path, demand_osm_path)
    national = _national_units(settings, district_code, boundary, forced=scheduler is not None or workers is not None)
    if national is not None:
        if osm_path or demand_osm_path or fmt == "geojson":
            raise click.UsageError("A national or provincial run (--scheduler) takes --demand FILE and gives text, "
                                   "json or csv; --osm, --demand-osm and --format geojson are for one district.")
        radii = [timed[0]] if timed else _radii(radius_values, settings.default_radius_m)
        _coverage_national(national, stations_paths, radii=radii, at=at, demand_path=demand_path,
                           weight_col=weight_col, demand_crs=demand_crs, scheduler=scheduler or "local",
                           workers=workers, fmt=fmt, extra=timed[1] if timed else {})
        return
    selection, parts, frame = _planner_inputs(settings, district_code, boundary, boundary_crs, stations_paths,
                                              need_district=osm_path is None)
    demand, source = _demand_and_source(demand_path, weight_col, demand_crs, demand_osm_path, parts)
    said = {"demand_source": source} if source else {}
    radii = [timed[0]] if timed else _radii(radius_values, settings.default_radius_m)
    circle = timed[1] if timed else {}
    targets = [(d.geometry, d.label, part) for d, part in parts] or [(None, None, frame)]
    if len(parts) > 1:  # the city or province as a whole, after its districts
        whole = district_mod.load_district(selection.adcode, data_dir=settings.data_dir, cache_dir=settings.cache_dir)
        together = pd.concat([part for _, part in parts])
        targets.append((whole.geometry, f"{selection.name} (all {len(parts)} districts)", together))
    reports, areas = [], []
    steps = len(targets) * len(radii) * (2 if osm_path else 1) + (1 if osm_path else 0)
    with _stderr_bar(steps, "coverage") as bar:
        network = read_walk_network(osm_path) if osm_path else None
        bar.update(1 if osm_path else 0)
        for region, name, part in targets:
            options = {"when": at, "demand": demand, "weight_col": "weight", "region_name": name}
            for radius in radii:
                if network is not None:  # both models over the same region, stations and time
                    net = analysis.network_coverage_report(part, network, region, radius_m=radius,
                                                           street_buffer_m=street_buffer_m, **options)
                    reports += [net.straight_line, net.network]
                    areas.append(net.areas)
                    bar.update(2)
                    continue
                reports.append(analysis.coverage_report(part, region, radius_m=radius, **options))
                if fmt == "geojson" and len(part):
                    areas.append(analysis.service_areas(part, region, radius_m=radius, when=at)
                                 .assign(region_name=name))
                bar.update(1)
    if fmt == "json":
        _echo_json([r.to_dict() | circle | said for r in reports])
    elif fmt == "csv":
        _echo_csv([_coverage_row(r) | circle | said for r in reports])
    elif fmt == "geojson":
        click.echo(pd.concat(areas, ignore_index=True).assign(**circle).to_json(drop_id=True, ensure_ascii=False)
                   if areas else '{"type": "FeatureCollection", "features": []}')
    else:
        if circle:
            click.echo(f"service circle: {circle['service_circle']}")
        if source:
            click.echo(f"demand: {source}")
        _coverage_table(reports)


@main.command()
@_district_options
@_planner_options
@_spec_option(RADIUS_M, default=None, help=f"{RADIUS_M.help_text()} Default: {_DEFAULT_RADIUS}.")
@_spec_option(MIN_AREA_M2)
@click.option("--rank-by", type=click.Choice(["area", "demand"]), default="area", show_default=True)
@click.option("--osm", "osm_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="OSM extract: gaps of the walking-distance service area instead of straight-line circles.")
@_spec_option(BY)
@_spec_option(CELL_M)
@_spec_option(BAND_EDGES_M, many=True, metavar="M[,M...]")
@click.option("--units", "units_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="With --by units: boundary file of sub-district units (街道/乡镇; GeoJSON, shapefile, GeoPackage) "
                   "with a name column.")
@click.option("--units-crs", metavar="DATUM", type=_Datum(epsg=True),
              help="Datum of --units: wgs84, gcj02, bd09 or an EPSG code (required with --units).")
@click.option("--units-name-col", metavar="COLUMN", help="Name column of --units (default: name, NAME, 名称, 街道, 乡镇).")
@_spec_option(TOP)
@_fmt_option
@click.pass_context
@_domain_errors
def gaps(ctx: click.Context, district_code: str | None, boundary: Path | None, boundary_crs: str | None,
         stations_paths: tuple[Path, ...], at: str | None, demand_path: Path | None, weight_col: str | None,
         demand_crs: str | None, demand_osm_path: Path | None, radius_m: float | None, min_area_m2: float,
         rank_by: str, osm_path: Path | None,
         by: str | None, cell_m: float, band_edges_m: tuple[float, ...] | None, units_path: Path | None,
         units_crs: str | None, units_name_col: str | None, top: int, fmt: str) -> None:
    """The parts of a district out of reach of every station, largest (or most demand) first.

    With --by: the uncovered area split into grid cells, distance bands from the nearest station, or the
    sub-district units (街道/乡镇) of --units, ranked by uncovered demand, then area. A city or province gives each
    of its districts in turn."""
    units = _gap_units_layer(by, units_path, units_crs, units_name_col)
    from stationmap import analysis
    from stationmap.network import read_walk_network

    settings = _settings(ctx)
    _check_demand_usage(demand_path, demand_osm_path)
    _selection, parts, _frame = _planner_inputs(settings, district_code, boundary, boundary_crs, stations_paths)
    demand, source = _demand_and_source(demand_path, weight_col, demand_crs, demand_osm_path, parts)
    said = {"demand_source": source} if source else {}
    radius = radius_m or settings.default_radius_m
    network = read_walk_network(osm_path) if osm_path is not None else None
    reports = []
    with _stderr_bar(len(parts), "gaps") as bar:
        for district, part in parts:
            covered, model = None, "straight-line"
            if network is not None and len(part):
                net = analysis.network_coverage_report(part, network, district.geometry, radius_m=radius, when=at)
                covered, model = net.areas.geometry.iloc[0], "network"
            reports.append(analysis.find_gaps(part, district.geometry, radius_m=radius, when=at, demand=demand,
                                              weight_col="weight", min_area_m2=min_area_m2, covered=covered,
                                              distance_model=model, region_name=district.label))
            bar.update(1)
    if by is not None:
        from stationmap.analysis.gap_units import DEFAULT_BAND_EDGES_M, split_gaps

        splits = [split_gaps(r, part, district.geometry, by=by, cell_m=cell_m, units=units, demand=demand,
                             band_edges_m=band_edges_m or DEFAULT_BAND_EDGES_M)
                  for r, (district, part) in zip(reports, parts, strict=True)]
        _echo_gap_units(splits, fmt=fmt, top=top, said=said)
        return
    if fmt == "json":
        out = [r.to_dict() | said | {"gaps": r.records(by=rank_by)} for r in reports]
        _echo_json(out[0] if len(out) == 1 else out)
    elif fmt == "csv":
        _echo_csv([{"region_name": r.region_name, "radius_m": r.radius_m, "distance_model": r.distance_model} | rec
                   for r in reports for rec in r.records(by=rank_by)])
    elif fmt == "geojson":
        frames = [r.gaps.assign(region_name=r.region_name, radius_m=r.radius_m, distance_model=r.distance_model)
                  .sort_values("rank_by_demand" if rank_by == "demand" else "rank") for r in reports]
        click.echo(pd.concat(frames, ignore_index=True).to_json(drop_id=True, ensure_ascii=False))
    else:
        if source:
            click.echo(f"demand: {source}")
        for report in reports:
            _gaps_table(report, rank_by=rank_by, top=top)


def _gaps_table(report: Any, *, rank_by: str, top: int) -> None:
    click.echo(f"Gaps in {report.region_name or 'the district'} at {report.radius_m:g} m ({report.distance_model}, "
               f"{report.crs}" + (f", open at {report.when}" if report.when else "") + f"): {report.n_gaps} gap(s), "
               f"{_km2(report.gap_area_m2)} km² of {_km2(report.region_area_m2)} km²; "
               f"{report.n_slivers} slivers under "
               f"{report.min_area_m2:,.0f} m² dropped ({_km2(report.sliver_area_m2)} km²)")
    click.echo(f"{'rank':>4} {'area km²':>9} {'demand':>10} {'centre lon,lat':>22} {'reach m':>8} "
               f"{'nearest station':<16} {'dist m':>7}")
    for rec in report.records(by=rank_by)[:top]:
        dist = "-" if rec["nearest_station_m"] is None else f"{rec['nearest_station_m']:,.0f}"
        click.echo(f"{rec['rank' if rank_by == 'area' else 'rank_by_demand']:>4} {rec['area_m2'] / 1e6:>9.3f} "
                   f"{rec['demand']:>10,.0f} {rec['centre_lon']:>11.5f},{rec['centre_lat']:<10.5f} "
                   f"{rec['inscribed_radius_m']:>8,.0f} {rec['nearest_station_id']!s:<16} {dist:>7}")


def _gap_units_layer(by: str | None, path: Path | None, crs: str | None, name_col: str | None) -> Any:
    """Read --units (sub-district polygons) when --by units asks for them; refuse it otherwise."""
    if path is None:
        if by == "units":
            raise click.UsageError("--by units needs --units FILE --units-crs DATUM (streets/townships, 街道/乡镇).")
        return None
    if by != "units":
        raise click.UsageError("--units is the boundary file of --by units; add --by units.")
    import geopandas as gpd
    import pyogrio

    from stationmap.analysis.gap_units import prepare_units

    if crs is None:  # before the file is read: a datum is never guessed
        raise click.UsageError("--units needs --units-crs: the datum of its coordinates (wgs84, gcj02, bd09 or an "
                               "EPSG code); it is never guessed.")
    try:
        frame = gpd.read_file(path)
    except (OSError, ValueError, pyogrio.errors.DataSourceError) as err:
        raise click.ClickException(f"Cannot read units file {str(path)!r}: {err}") from err
    return prepare_units(frame, crs=crs, name_col=name_col)


def _echo_gap_units(splits: list[Any], *, fmt: str, top: int, said: dict[str, str] | None = None) -> None:
    said = said or {}
    if fmt == "json":
        out = [s.to_dict() | said for s in splits]
        _echo_json(out[0] if len(out) == 1 else out)
    elif fmt == "csv":
        _echo_csv([{"region_name": s.region_name, "by": s.by, "radius_m": s.radius_m} | rec
                   for s in splits for rec in s.records()])
    elif fmt == "geojson":
        frames = [s.units.assign(region_name=s.region_name, by=s.by, radius_m=s.radius_m) for s in splits]
        click.echo(pd.concat(frames, ignore_index=True).to_json(drop_id=True, ensure_ascii=False))
    else:
        if said:
            click.echo(f"demand: {said['demand_source']}")
        for split in splits:
            _gap_units_table(split, top=top)


def _gap_units_table(split: Any, *, top: int) -> None:
    what = (f"{split.cell_m:g} m grid cells" if split.by == "grid" else
            "distance bands from the nearest station" if split.by == "bands" else "sub-district units")
    demand = "" if split.uncovered_demand is None else f"; uncovered demand {split.uncovered_demand:,.0f}"
    click.echo(f"Gaps in {split.region_name or 'the district'} by {what} at {split.radius_m:g} m ({split.crs}): "
               f"{_km2(split.unit_gap_area_m2)} of {_km2(split.gap_area_m2)} km² uncovered in {len(split.units)} "
               f"unit(s){demand}")
    click.echo(f"{'rank':>4}  {'unit':<14} {'uncov km²':>9} {'of km²':>7} {'share':>6} {'demand':>9} {'pieces':>6}  "
               f"{'nearest station':<34} {'dist m':>7}")
    for rec in split.records()[:top]:
        dist = "-" if rec["nearest_station_m"] is None else f"{rec['nearest_station_m']:,.0f}"
        station = "-" if rec["nearest_station_id"] is None else f"{rec['nearest_station_name']} ({rec['nearest_station_id']})"
        share = "-" if rec["uncovered_share"] is None else f"{rec['uncovered_share']:.0%}"
        click.echo(f"{rec['rank']:>4}  {_pad(str(rec['unit']), 14)} {rec['uncovered_m2'] / 1e6:>9.2f} "
                   f"{rec['area_m2'] / 1e6:>7.2f} {share:>6} {rec['demand']:>9,.0f} {rec['n_pieces']:>6}  "
                   f"{_pad(station, 34)} {dist:>7}")


def _pad(text: str, width: int) -> str:
    """Left-align `text` in `width` terminal columns, counting a Chinese character as two."""
    import unicodedata

    used = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(0, width - used)


def _parse_lonlat(values: tuple[tuple[float, float], ...]) -> list[tuple[float, float]]:
    """The --add points, read and checked by `_LonLat`, as a list."""
    return list(values)


@main.command()
@_district_options
@_planner_options
@_spec_option(SITES_K, "-k", "--k", "k")
@click.option("--cover-all", is_flag=True, help="Instead of k sites: the fewest sites that reach all demand.")
@_candidates_options
@_spec_option(GRID_M)
@_spec_option(RADIUS_M, default=None, help=f"{RADIUS_M.help_text()} Default: {_DEFAULT_RADIUS}.")
@_minutes_options
@click.option("--method", type=click.Choice(["auto", "ilp", "greedy"]), default="auto", show_default=True,
              help="Exact ILP (HiGHS), lazy greedy with its bound, or auto by size (with --demand; without "
                   "demand data the k sites are chosen deepest first, see docs/planner.md).")
@_spec_option(TIME_LIMIT_S)
@click.option("--what-if", "what_if", is_flag=True,
              help="Report coverage before and after: with --add/--remove, those changes; else the proposed sites.")
@click.option("--add", "add", multiple=True, metavar="LON,LAT", type=_LonLat(),
              help="What-if: a new station (WGS-84 degrees), repeatable.")
@click.option("--remove", "remove", multiple=True, metavar="ID", help="What-if: remove this station, repeatable.")
@_fmt_option
@click.pass_context
@_domain_errors
def site(ctx: click.Context, district_code: str | None, boundary: Path | None, boundary_crs: str | None,
         stations_paths: tuple[Path, ...], at: str | None, demand_path: Path | None, weight_col: str | None,
         demand_crs: str | None, demand_osm_path: Path | None, k: int, cover_all: bool, candidates_path: Path | None,
         candidates_osm_path: Path | None, candidates_crs: str | None,
         grid_m: float | None, radius_m: float | None, minutes: int | None, mode: str | None,
         method: Literal["auto", "ilp", "greedy"], time_limit_s: float, what_if: bool,
         add: tuple[tuple[float, float], ...], remove: tuple[str, ...], fmt: str) -> None:
    """Where to put the next stations: the k sites that cover the most uncovered demand, in order of gain.

    Without --demand the k sites are chosen deepest first (farthest from every station, earlier site and the
    district edge), and the output says no demand data was used. A city or province gives k sites for each of
    its districts."""
    from stationmap import analysis

    settings = _settings(ctx)
    timed = _minutes_radius(minutes, mode, radius_given=radius_m is not None)
    _check_demand_usage(demand_path, demand_osm_path)
    _selection, parts, _frame = _planner_inputs(settings, district_code, boundary, boundary_crs, stations_paths)
    demand, source = _demand_and_source(demand_path, weight_col, demand_crs, demand_osm_path, parts)
    radius = timed[0] if timed else radius_m or settings.default_radius_m
    circle = timed[1] if timed else {}
    if what_if and len(parts) > 1:
        raise click.UsageError("--what-if takes one district; name a district, not a city or province.")
    if what_if and (add or remove):
        chosen, frame = parts[0]
        outcome = analysis.what_if(frame, chosen.geometry, add=_parse_lonlat(add), remove=list(remove),
                                   radius_m=radius, when=at, demand=demand, region_name=chosen.label)
        _what_if_out(outcome, fmt)
        return
    candidates, picked = _candidates_and_source(candidates_path, candidates_crs, candidates_osm_path, parts)
    said = {"candidates_source": picked} if picked else {}
    results = []
    with _stderr_bar(4 * len(parts), "siting") as bar:
        for chosen, frame in parts:
            results.append(analysis.plan_sites(
                frame, chosen.geometry, k=None if cover_all else k, radius_m=radius, demand=demand,
                candidates=_inside(candidates, chosen.geometry) if candidates_osm_path else candidates, when=at, candidate_spacing_m=grid_m, method=method,
                time_limit_s=time_limit_s, progress=lambda _stage: bar.update(1), demand_source=source))
    if what_if:
        (chosen, frame), result = parts[0], results[0]
        sites = result.sites_frame()[["candidate_id", "geometry"]].rename(columns={"candidate_id": "id"})
        _what_if_out(analysis.what_if(frame, chosen.geometry, add=sites, radius_m=radius, when=at, demand=demand,
                                      region_name=chosen.label), fmt, siting=result)
        return
    if len(results) == 1:
        _siting_out(results[0], fmt, parts[0][0].label, circle | said)
    elif fmt == "json":
        _echo_json([{"region_name": d.label, "adcode": d.adcode} | r.to_dict() | circle | said
                    for (d, _), r in zip(parts, results)])
    elif fmt == "csv":
        _echo_csv([{"region_name": d.label, "radius_m": r.radius_m, "method": r.method} | s | _source_fields(r)
                   | circle for (d, _), r in zip(parts, results) for s in r.to_dict()["sites"]])
    elif fmt == "geojson":
        click.echo(pd.concat([r.sites_frame().assign(region_name=d.label, **circle)
                              for (d, _), r in zip(parts, results)],
                             ignore_index=True).to_json(drop_id=True, ensure_ascii=False))
    else:
        for (district, _), result in zip(parts, results):
            _siting_out(result, fmt, district.label, circle | said)
            click.echo("")


def _source_fields(result: Any) -> dict[str, Any]:
    return {"demand_source": result.demand_source, "ties_broken_by": result.ties_broken_by}


def _siting_out(result: Any, fmt: str, name: str, circle: dict[str, Any] | None = None) -> None:
    circle = circle or {}
    if fmt == "json":
        _echo_json(result.to_dict() | circle)
    elif fmt == "csv":
        _echo_csv([s | {"radius_m": result.radius_m, "method": result.method} | _source_fields(result) | circle
                   for s in result.to_dict()["sites"]])
    elif fmt == "geojson":
        click.echo(result.sites_frame().assign(**circle).to_json(drop_id=True, ensure_ascii=False))
    else:
        problem = "fewest sites covering all demand" if result.problem == "set-cover" else f"best {result.k} sites"
        if result.ties_broken_by:
            quality = f"ordered by {result.ties_broken_by}, not optimal"
        else:
            quality = ("optimal" if result.optimal else
                       f"within {result.gap_pct:.1f}% of the bound {result.upper_bound:,.1f}")
        click.echo(f"{name}: {problem} at {result.radius_m:g} m ({result.distance_model}), {result.method}, "
                   f"{quality}; {result.n_demand:,} demand points x {result.n_candidates:,} candidates, "
                   f"{result.n_pairs:,} pairs, {result.solve_time_s:.2f} s")
        if "service_circle" in circle:
            click.echo(f"service circle: {circle['service_circle']}")
        unit = " m²" if result.demand_source == "area (no demand data)" else ""
        click.echo(f"demand: {result.demand_source}"
                   + (" - NO DEMAND DATA USED: gains are area in m², not people or workers" if unit else ""))
        if "candidates_source" in circle:
            click.echo(f"candidates: {circle['candidates_source']}")
        click.echo(f"demand {result.total_demand:,.0f}{unit}: already covered {result.already_covered:,.0f}, "
                   f"uncovered {result.uncovered_before:,.0f}, of which no candidate reaches "
                   f"{result.unreachable:,.0f}")
        deep = result.ties_broken_by is not None
        click.echo(f"{'#':>3} {'site':<14} {'lon':>11} {'lat':>10} {'gain':>12} {'cumulative':>12} {'of gap':>7}"
                   + (f" {'clear m':>8}" if deep else "") + "  name")
        for s in result.sites:
            clearance = (f" {s.clearance_m:>8,.0f}" if s.clearance_m is not None and s.clearance_m < float("inf")
                         else f" {'-':>8}") if deep else ""
            click.echo(f"{s.rank:>3} {s.candidate_id:<14} {s.lon:>11.5f} {s.lat:>10.5f} {s.gain:>12,.0f} "
                       f"{s.cumulative:>12,.0f} {s.cumulative_pct:>6.1f}%{clearance}  {s.name}")
        if result.greedy_covered is not None:
            click.echo(f"the lazy greedy alone would cover {result.greedy_covered:,.0f} "
                       f"({result.greedy_gap_pct:.2f}% less)")
        for note in result.notes:
            click.echo(f"note: {note}")


def _what_if_out(result: Any, fmt: str, siting: Any = None) -> None:
    if fmt in ("json", "geojson"):
        data = result.to_dict()
        if siting is not None:
            data["siting"] = siting.to_dict()
        _echo_json(data)
        return
    if fmt == "csv":
        _echo_csv([{"figure": key, "before": _coverage_row(result.before).get(key, None),
                    "after": _coverage_row(result.after).get(key, None), "delta": value}
                   for key, value in result.to_dict()["delta"].items()])
        return
    if siting is not None:
        _siting_out(siting, "text", result.before.region_name)
    b, a = result.before, result.after
    click.echo(f"What if (+{len(result.added_ids)} / -{len(result.removed_ids)} stations) at {b.radius_m:g} m "
               f"({b.distance_model}, {b.crs}):")
    click.echo(f"{'':<22} {'before':>10} {'after':>10} {'change':>10}")
    click.echo(f"{'stations counted':<22} {b.n_used:>10} {a.n_used:>10} {a.n_used - b.n_used:>+10}")
    rows = [("covered km²", b.covered_area_m2 / 1e6, a.covered_area_m2 / 1e6),
            ("covered ≥2 km²", b.covered_twice_area_m2 / 1e6, a.covered_twice_area_m2 / 1e6)]
    if b.pct_area_covered is not None:
        rows += [("covered share %", b.pct_area_covered, a.pct_area_covered),
                 ("covered ≥2 share %", b.pct_area_covered_twice, a.pct_area_covered_twice)]
    if b.demand is not None and a.demand is not None:
        rows += [("demand covered %", b.demand.pct_covered, a.demand.pct_covered)]
    for label, before, after in rows:
        click.echo(f"{label:<22} {before:>10.2f} {after:>10.2f} {after - before:>+10.2f}")


def _serve_settings(settings: Settings, *, files: tuple[Path, ...] = (), district_names: tuple[str, ...] = (),
                    boundary: Path | None = None, boundary_crs: str | None = None,
                    **changes: object) -> Settings:
    """Return the settings `serve` runs with: the register FILES, named districts, own boundary and options."""
    if boundary is not None and not boundary_crs:
        msg = ("--boundary needs --boundary-crs: the datum of its coordinates (wgs84, gcj02, bd09 or an EPSG code); "
               "it is never guessed.")
        raise click.UsageError(msg)
    if boundary_crs and boundary is None:
        raise click.UsageError("--boundary-crs is the datum of a --boundary file; give the file too.")
    return settings.replace(stations=tuple(f.resolve() for f in files) or None,
                            districts=tuple(d.strip() for d in district_names if d.strip()) or None,
                            boundary=boundary.resolve() if boundary is not None else None,
                            boundary_crs=boundary_crs, **changes)


def _resolved(path: Path | None) -> Path | None:
    return path.resolve() if path is not None else None


@main.command()
@click.argument("files", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--district", "district_names", multiple=True, metavar="NAME_OR_ADCODE",
              help="Also serve this district (repeatable), by adcode or name, e.g. 440106 or 广州市天河区; "
                   "a city or province means each of its districts.")
@click.option("--boundary", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A boundary of your own (GeoJSON, shapefile, GeoPackage) served in place of the built-in one; "
                   "without an adcode in the file, --district names it.")
@click.option("--boundary-crs", metavar="DATUM", type=_Datum(epsg=True),
              help="Datum of --boundary: wgs84, gcj02, bd09 or an EPSG code (required with --boundary).")
@click.option("--host", help="Address to bind (default 127.0.0.1; 0.0.0.0 to serve the network).")
@_spec_option(PORT)
@click.option("--tile-provider", type=click.Choice(["osm", "amap", "tianditu"]),
              help="Base-map tiles: osm (default), amap (GCJ-02; markers are converted), tianditu (needs a key).")
@click.option("--tianditu-key", envvar="STATIONMAP_TIANDITU_KEY", help="Tianditu API key.")
@_spec_option(MAX_REQUEST_BYTES)
@_database_option
@_demand_options
@_candidates_options
@click.pass_context
@_domain_errors
def serve(ctx: click.Context, files: tuple[Path, ...], district_names: tuple[str, ...], boundary: Path | None,
          boundary_crs: str | None, host: str | None, port: int | None, tile_provider: str | None,
          tianditu_key: str | None, max_request_bytes: int | None, database_url: str | None,
          demand_path: Path | None, weight_col: str | None, demand_crs: str | None, demand_osm_path: Path | None,
          candidates_path: Path | None, candidates_osm_path: Path | None, candidates_crs: str | None) -> None:
    """Serve the worker map, the planner view, editing and the JSON API with waitress (a production WSGI server).

    The register lives in a database (--database; by default a SQLite file under ~/.local/share/stationmap for
    each set of FILES). FILES are GeoJSON station files (as `stationmap import` writes them) or folders of them;
    they fill the database on first use. Without FILES the bundled demo is served. The planner and reports cover
    every district the stations belong to, and those named with --district. The planner's coverage, gaps and sites
    use the demand and candidates given as `site` does, read once at start (also STATIONMAP_DEMAND ...).
    """
    from stationmap.web.server import serve as run_server  # Flask loads only for this command

    _check_demand_usage(demand_path, demand_osm_path)
    _check_candidates_usage(candidates_path, candidates_osm_path)

    settings = _serve_settings(_settings(ctx), files=files, district_names=district_names, boundary=boundary,
                               boundary_crs=boundary_crs, host=host, port=port, tile_provider=tile_provider,
                               tianditu_key=tianditu_key, max_request_bytes=max_request_bytes,
                               database_url=database_url, demand=_resolved(demand_path), demand_weight_col=weight_col,
                               demand_crs=demand_crs, demand_osm=_resolved(demand_osm_path),
                               candidates=_resolved(candidates_path), candidates_crs=candidates_crs,
                               candidates_osm=_resolved(candidates_osm_path))
    what = ", ".join(map(str, settings.stations)) if settings.stations else "the bundled demo"
    click.echo(f"stationmap: loading {what}; then serving on http://{settings.host}:{settings.port}/ "
               "(planner: /planner, API: /api/openapi.json)")
    run_server(settings)


@main.command("build-reports")
@click.argument("files", nargs=-1, type=click.Path(exists=True, path_type=Path))
@_database_option
@click.option("--lang", "langs", multiple=True, type=click.Choice(LANGS),
              help="Languages to build, repeatable (default: zh and en).")
@click.option("--format", "formats", multiple=True, type=click.Choice(["html", "pdf"]),
              help="Formats to build, repeatable (default: html and pdf).")
@click.pass_context
@_domain_errors
def build_reports(ctx: click.Context, files: tuple[Path, ...], database_url: str | None, langs: tuple[str, ...],
                  formats: tuple[str, ...]) -> None:
    """Build every served district's report into the server's report cache, so its first download is instant.

    Takes the same FILES and --database as serve, and writes where serve reads (the cache folder): run it after
    the monthly import, or from cron. Reports already built for the same stations are kept, not built again.
    """
    from stationmap.web import create_app  # Flask loads only for this command
    from stationmap.web.live import app_state
    from stationmap.web.reports import build_ahead

    settings = _serve_settings(_settings(ctx), files=files, database_url=database_url)
    app = create_app(settings)
    try:
        state, cache = app_state(app), app.extensions["stationmap_reports"]
        built = 0
        for adcode, fmt, lang, seconds in build_ahead(state, cache, langs=langs or LANGS,
                                                      formats=formats or ("html", "pdf"),
                                                      store=app.extensions["stationmap_store"]):
            built += 1
            click.echo(f"{state.districts[adcode].label} ({adcode}) {lang} {fmt}: {seconds:.1f} s")
        click.echo(f"{built} report(s) ready in {cache.folder}")
    finally:
        app.extensions["stationmap_store"].close()


@main.command()
@click.option("--district", "district_codes", multiple=True, metavar="NAME",
              help="District, city or province by adcode or name, repeatable. A city or province gives one report "
                   "with its districts side by side plus one per district in a subfolder. Default: the districts "
                   "the --stations lie in, else every bundled district.")
@_stations_option
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for report.html, report.pdf and the CSV/GeoJSON tables.")
@click.option("--lang", type=click.Choice(LANGS), default="zh", show_default=True)
@_spec_option(RADIUS_M, "--radius-m", "radius_values", many=True, multiple=True, metavar="M[,M...]",
              help=f"Radii in metres for the coverage table; repeatable or a comma list. Allowed: "
                   f"{RADIUS_M.range_text()}. Default: {','.join(f'{r:g}' for r in REPORT_RADII_M)}.")
@_spec_option(HEADLINE_RADIUS_M)
@_spec_option(REPORT_SITES, "--sites", "k_sites")
@click.option("--rubric", "rubric_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Star rubric TOML (default: <data-dir>/rubric/stars-v1.toml).")
@_demand_options
@_candidates_options
@click.option("--date", "on", type=click.DateTime(formats=["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Day whose opening hours the time-of-day coverage uses (its weekday is named in the report). "
                   "Default: the --as-of day, else today.")
@click.option("--no-pdf", is_flag=True, help="Skip the PDF (HTML and tables only).")
@click.option("--osm", "osm_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="OSM extract (.osm, .osm.bz2, .osm.pbf) whose streets the district maps draw as their base layer, "
                   "read offline (needs stationmap[osm]).")
@_spec_option(SCHEDULER, default=None, help=f"{SCHEDULER.description} For 全国 or a province (default local).")
@_spec_option(WORKERS, default=None, help=f"{WORKERS.help_text()} Default: {WORKERS.default}.")
@click.pass_context
@_domain_errors
def report(ctx: click.Context, district_codes: tuple[str, ...], stations_paths: tuple[Path, ...], output: Path,
           lang: str, radius_values: tuple[tuple[float, ...], ...], headline_radius_m: float, k_sites: int,
           rubric_file: Path | None, demand_path: Path | None, weight_col: str | None, demand_crs: str | None,
           demand_osm_path: Path | None, candidates_path: Path | None, candidates_osm_path: Path | None,
           candidates_crs: str | None, no_pdf: bool, on: dt.datetime | None, osm_path: Path | None,
           scheduler: str | None, workers: int | None) -> None:
    """Write a coverage report (HTML, PDF, CSV, GeoJSON) for districts, a city or a province, side by side.

    Its proposed sites use the demand and candidates given as `site` does (--demand or --demand-osm, --candidates
    or --candidates-osm), and the report names both sources. --district 全国 or a province writes one national or
    provincial report computed on Dask (--scheduler, --workers; docs/national.md): a table of its provinces or
    counties, a county map, the least-covered counties and districts.csv."""
    from stationmap import report as report_mod  # matplotlib loads only for this command
    from stationmap.demand import read_planning_inputs
    from stationmap.network import read_walk_network

    settings = _settings(ctx)
    forced = scheduler is not None or workers is not None
    nationals = [n for q in district_codes if (n := _national_units(settings, q, None, forced=forced)) is not None]
    if nationals or forced:
        if len(district_codes) != 1 or not nationals:
            raise click.UsageError("A national or provincial report takes one --district (全国, or a province's name "
                                   "or adcode); --scheduler and --workers are for it only.")
        given = {"--osm": osm_path, "--demand-osm": demand_osm_path, "--candidates": candidates_path,
                 "--candidates-osm": candidates_osm_path, "--rubric": rubric_file, "--date": on}
        if wrong := [option for option, value in given.items() if value is not None]:
            raise click.UsageError(f"{', '.join(wrong)}: for a district report; a national or provincial report "
                                   "takes --stations, --demand FILE, --radius-m M, --scheduler and --workers.")
        radii = _radii(radius_values, headline_radius_m)
        if len(radii) != 1:
            raise click.UsageError("A national or provincial report has one service radius: give one --radius-m.")
        _report_national(ctx, nationals[0], stations_paths, output=output, lang=lang, radius_m=radii[0],
                         demand_path=demand_path, weight_col=weight_col, demand_crs=demand_crs,
                         scheduler=scheduler or "local", workers=workers, pdf=not no_pdf)
        return
    rules = rubric.load_rubric(rubric_file or rubric.default_rubric_path(settings.data_dir))
    frame = _loaded_stations(stations_paths)
    codes = None if frame is None else district_mod.assign_districts(frame, data_dir=settings.data_dir,
                                                                     cache_dir=settings.cache_dir).codes
    queries = (list(district_codes) or (sorted(set(codes) - {""}) if codes is not None else
                                        district_mod.bundled_adcodes(settings.data_dir)))
    selections = [district_mod.select_districts(q, data_dir=settings.data_dir, cache_dir=settings.cache_dir)
                  for q in queries]
    chosen = list({d.adcode: d for sel in selections for d in sel.districts}.values())
    if frame is None:
        frame = _bundled_stations(settings, chosen, ", ".join(sel.name for sel in selections))
        codes = district_mod.assign_districts(frame, data_dir=settings.data_dir, cache_dir=settings.cache_dir,
                                              known={d.adcode: d for d in chosen}).codes
    assert codes is not None  # set above with the stations, from --stations or the bundled files
    radii = _radii(radius_values, 0.0) if radius_values else list(report_mod.DEFAULT_RADII_M)
    _check_demand_usage(demand_path, demand_osm_path)
    _check_candidates_usage(candidates_path, candidates_osm_path)
    region = _region_of([(d, None) for d in chosen]) if demand_osm_path or candidates_osm_path else None
    inputs = read_planning_inputs(demand=demand_path, weight_col=weight_col, demand_crs=demand_crs,
                                  demand_osm=demand_osm_path, candidates=candidates_path, candidates_crs=candidates_crs,
                                  candidates_osm=candidates_osm_path, region=region)
    day = ctx.meta.get(_REGISTER_META, {}).get("as_of")
    as_of = day.date() if day is not None else None
    read = _register_reports(ctx, stations_paths, frame)  # workers' reports: only with a register
    streets = read_walk_network(osm_path, largest_component=False) if osm_path is not None else None
    built = []
    with _stderr_bar(len(chosen) * 7, f"building {len(chosen)} district report(s)") as bar:
        for district in chosen:
            built.append(report_mod.build_district_report(
                district_mod.stations_of(frame, district, codes), district, rubric=rules, radii_m=radii,
                radius_m=headline_radius_m, demand=inputs.demand, demand_from=inputs.demand_from,
                candidates=inputs.candidates_in(district.geometry), candidates_from=inputs.candidates_from,
                k_sites=k_sites,
                on=on.date() if on is not None else None, as_of=as_of, network=streets,
                progress=lambda _step: bar.update(1), feedback=read[0] if read else None,
                feedback_at=read[1] if read else None))
    _echo_written(report_mod.write_report(built, output, lang=lang, pdf=not no_pdf))
    if len(built) > 1 and any(sel.level != "county" for sel in selections):
        for one in built:  # a city or province: each district's own report as well
            own = report_mod.write_report([one], output / one.district.adcode, lang=lang, pdf=not no_pdf)
            click.echo(f"wrote {own['report.html']}  ({one.title})")
    empty = [r.title for r in built if r.inventory.n_stations == 0]
    if empty:
        click.echo(f"no stations in {len(empty)} district(s), reported as uncovered: {'、'.join(empty)}")


def _echo_written(files: dict[str, Path]) -> None:
    """Say which files a report wrote, pointing at the page to open."""
    for name, path in files.items():
        click.echo(f"wrote {path}" if name != "report.html" else f"wrote {path}  <- open this")


def _report_national(ctx: click.Context, national: tuple[str, list[Any]], stations_paths: tuple[Path, ...], *,
                     output: Path, lang: str, radius_m: float, demand_path: Path | None, weight_col: str | None,
                     demand_crs: str | None, scheduler: str, workers: int | None, pdf: bool) -> None:
    """One report for 全国 or a province, computed on Dask (`stationmap.report.national`)."""
    import contextlib

    from stationmap.analysis.national import open_client
    from stationmap.report.national import build_national_report, write_national_report

    name, units = national
    frame, demand = _national_inputs(name, stations_paths, demand_path, weight_col, demand_crs)
    wanted = ctx.meta.get(_REGISTER_META, {})
    source = None if wanted else "、".join(p.name for p in stations_paths)
    day = wanted.get("as_of")
    with open_client(scheduler, workers=workers) as client, contextlib.ExitStack() as stack:
        bars: list[Any] = []

        def new_bar(n: int) -> None:
            bars.append(stack.enter_context(_stderr_bar(n, f"{name}: {n} tiles")))

        built = build_national_report(frame, units, client=client, name=name, radius_m=radius_m,
                                      stations_source=source, demand=demand,
                                      demand_source=demand_path.name if demand_path is not None else None,
                                      as_of=day.date() if day is not None else None, on_plan=new_bar,
                                      progress=lambda k: bars[-1].update(k))
    _echo_written(write_national_report(built, output, lang=lang, pdf=pdf))
    whole = built.whole
    click.echo(f"{name}: {whole.n_stations} stations inside, {len(built.counties)} counties, "
               f"{_pct(whole.pct_area_covered)} of the area within {radius_m:g} m")


def _base_url(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Check --base-url while the command line is parsed: http(s) with a host, else exit 2."""
    from stationmap.report.qr_sheet import check_base_url

    try:
        return check_base_url(value) if value is not None else None
    except BadRequestError as err:
        raise click.BadParameter(str(err), ctx, param) from err


@main.command()
@click.option("--district", "district_code", metavar="NAME", required=True,
              help="One district by adcode or name (610111, 灞桥区).")
@_stations_option
@click.option("--base-url", required=True, callback=_base_url, metavar="URL",
              help="Where workers open the station map: http(s)://host[/path]; each code opens "
                   "<URL>/?station=<id>.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The sheet: .pdf (A4, needs stationmap[pdf]) or .html.")
@click.option("--lang", type=click.Choice(LANGS), default="zh", show_default=True)
@click.pass_context
@_domain_errors
def qr(ctx: click.Context, district_code: str, stations_paths: tuple[Path, ...], base_url: str, output: Path,
       lang: str) -> None:
    """Print a district's QR sheet: one code per open station, opening its page with the feedback form."""
    from stationmap.files import atomic_write
    from stationmap.report import qr_sheet  # matplotlib and WeasyPrint load only for this command

    selection, parts, _frame = _planner_inputs(_settings(ctx), district_code, None, None, stations_paths)
    if len(parts) != 1:
        raise click.UsageError(f"{selection.name} has {len(parts)} districts; name one district for a QR sheet.")
    district, frame = parts[0]
    sheet = qr_sheet.build_qr_sheet(frame, district, base_url=base_url, lang=lang)
    html = output.suffix.lower() in (".html", ".htm")
    body = qr_sheet.render_qr_html(sheet).encode("utf-8") if html else qr_sheet.render_qr_pdf(sheet)
    with atomic_write(output) as tmp:
        tmp.write_bytes(body)
    left = f"; {sheet.n_left_out} closed or temporarily closed left out" if sheet.n_left_out else ""
    click.echo(f"wrote {output}: {len(sheet.cards)} station(s) of {sheet.title} on {sheet.n_pages} A4 page(s){left}")


# --------------------------------------------------------------------------------------------------------------
# accounts: stationmap user ..., stationmap token ... (the register's users and API tokens)


def _stdin_is_tty() -> bool:
    import sys

    return sys.stdin.isatty()


def _read_password(from_stdin: bool, *, required: bool) -> str | None:
    """The password from one line of stdin, or typed twice at a terminal; None when neither is possible."""
    if from_stdin:
        import sys

        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise click.UsageError("--password-stdin read no password: pipe it in, one line (printf '%s\\n' ...).")
        return line
    if _stdin_is_tty():
        password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        return password
    if required:
        raise click.UsageError("No terminal to type the password at: pass it on stdin with --password-stdin.")
    return None


@main.group()
def user() -> None:
    """Accounts of the living register: who may sign in and edit (admin, editor of districts, viewer)."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "editor", "viewer"]), required=True,
              help="admin: everything; editor: stations of their districts; viewer: read history, no edits.")
@click.option("--district", "district_queries", multiple=True, metavar="ADCODE_OR_NAME",
              help="An editor's district, repeatable: 440106, 天河区, '广州市 天河区'; a city means its districts.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from one line of stdin (else it is asked for twice at a terminal; without "
                   "a terminal the account gets no password and uses API tokens only).")
@_database_option
@click.pass_context
@_domain_errors
def user_add(ctx: click.Context, name: str, role: str, district_queries: tuple[str, ...], password_stdin: bool,
             database_url: str | None) -> None:
    """Add an account NAME."""
    from stationmap import accounts

    password = _read_password(password_stdin, required=False)
    store = _open_register(ctx, database_url)
    try:
        added = accounts.add_user(store, name, role, district_queries, password)
    finally:
        store.close()
    where = f" for districts {', '.join(added.districts)}" if added.districts else ""
    click.echo(f"added {added.role} {added.name!r}{where}")
    if password is None:
        click.echo(f"{added.name!r} has no password: it cannot sign in and uses API tokens only "
                   f"(stationmap token create {added.name}; stationmap user passwd to give it one).", err=True)


@user.command("list")
@_database_option
@click.pass_context
@_domain_errors
def user_list(ctx: click.Context, database_url: str | None) -> None:
    """List the accounts: name, role, districts, whether they may sign in."""
    store = _open_register(ctx, database_url)
    try:
        accounts_ = store.users()
    finally:
        store.close()
    if not accounts_:
        click.echo("no accounts yet (stationmap user add NAME --role ...)")
        return
    for one in accounts_:
        state = "disabled" if one.disabled else ("password" if one.password_hash else "tokens only")
        click.echo("\t".join([one.name, one.role, ",".join(one.districts) or "-", state]))


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the new password from one line of stdin.")
@_database_option
@click.pass_context
@_domain_errors
def user_passwd(ctx: click.Context, name: str, password_stdin: bool, database_url: str | None) -> None:
    """Give account NAME a new password; its browser sessions end, its API tokens stay."""
    from stationmap import accounts

    password = _read_password(password_stdin, required=True)
    assert password is not None  # required: a usage error otherwise
    store = _open_register(ctx, database_url)
    try:
        accounts.set_password(store, name, password)
    finally:
        store.close()
    click.echo(f"new password for {name!r}; its browser sessions have ended")


@user.command("disable")
@click.argument("name")
@_database_option
@click.pass_context
@_domain_errors
def user_disable(ctx: click.Context, name: str, database_url: str | None) -> None:
    """Disable account NAME: no sign-in, no API tokens, its sessions end (its edits stay in the history)."""
    from stationmap import accounts

    store = _open_register(ctx, database_url)
    try:
        accounts.disable_user(store, name)
    finally:
        store.close()
    click.echo(f"disabled {name!r}")


@main.group()
def token() -> None:
    """API tokens: for scripts and other systems that edit the register (Authorization: Bearer <token>)."""


@token.command("create")
@click.argument("name")
@click.option("--label", default="", help="What the token is for (importer, qgis ...), to revoke it alone later.")
@_database_option
@click.pass_context
@_domain_errors
def token_create(ctx: click.Context, name: str, label: str, database_url: str | None) -> None:
    """Make an API token for account NAME and print it (once)."""
    from stationmap import accounts

    store = _open_register(ctx, database_url)
    try:
        secret = accounts.create_token(store, name, label)
    finally:
        store.close()
    click.echo(secret)
    click.echo("This token is shown once and stored only as a hash: keep it now. Send it as "
               "'Authorization: Bearer <token>'; revoke it with stationmap token revoke.", err=True)


@token.command("revoke")
@click.argument("name")
@click.option("--label", default=None, help="Revoke only the tokens with this label (default: all of NAME's).")
@_database_option
@click.pass_context
@_domain_errors
def token_revoke(ctx: click.Context, name: str, label: str | None, database_url: str | None) -> None:
    """Revoke account NAME's API tokens (all, or those with --label)."""
    from stationmap import accounts

    store = _open_register(ctx, database_url)
    try:
        count = accounts.revoke_tokens(store, name, label)
    finally:
        store.close()
    click.echo(f"revoked {count} token(s) of {name!r}" + (f" labelled {label!r}" if label is not None else ""))


@main.group("feedback")
def feedback_group() -> None:
    """Workers' reports on stations: the editors' queue, read and handled from the command line."""


@feedback_group.command("list")
@_database_option
@click.option("--district", "district_code", type=_Checked(FEEDBACK_DISTRICT), metavar="ADCODE",
              help="Only this district's reports (default: every district).")
@click.option("--state", type=click.Choice(FEEDBACK_STATES), help="Only reports in this state.")
@click.option("--overdue", is_flag=True, help="Only reports still open and past their deadline.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True,
              help="A table, JSON, or CSV (text a spreadsheet would run as a formula is quoted; with -o a file "
                   "for Excel: UTF-8 with BOM).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the CSV or JSON to this file instead of the terminal.")
@click.option("--lang", type=click.Choice(LANGS), default="zh", show_default=True)
@click.pass_context
@_domain_errors
def feedback_list(ctx: click.Context, database_url: str | None, district_code: str | None, state: str | None,
                  overdue: bool, fmt: str, output: Path | None, lang: str) -> None:
    """List workers' reports, newest first: state, overdue, deadline (China time), station, kind, text, phone."""
    from stationmap import feedback

    store = _open_register(ctx, database_url)
    reports = feedback.select_reports(store, district=district_code, states=[state] if state else [],
                                      overdue=overdue)
    rows = feedback.queue_rows(reports, feedback.station_names(store, [r.station_id for r in reports]), lang=lang,
                               spreadsheet=fmt == "csv")
    if fmt == "text":
        _feedback_table(rows, lang)
    elif fmt == "json":
        _write_or_echo(json.dumps({"reports": rows}, ensure_ascii=False, indent=1), output, bom=False)
    else:
        _write_or_echo(_csv_text(rows, columns=list(rows[0]) if rows else ["id"]), output, bom=True)


def _csv_text(rows: list[dict[str, Any]], *, columns: list[str]) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _write_or_echo(text: str, output: Path | None, *, bom: bool) -> None:
    """Print `text`, or write it to `output` atomically (with a BOM for a CSV: Excel then reads Chinese)."""
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
        return
    from stationmap.files import atomic_write

    with atomic_write(output) as tmp:
        tmp.write_text(("\ufeff" if bom else "") + text, encoding="utf-8", newline="")
    click.echo(f"wrote {output}", err=True)


def _feedback_table(rows: list[dict[str, Any]], lang: str) -> None:
    """The reports as aligned columns (a Chinese character is two terminal columns); long text is cut."""
    if not rows:
        click.echo("没有符合条件的报告" if lang == "zh" else "no reports match")
        return
    heads = (("编号", "状态", "逾期", "截止", "站点", "名称", "类型", "设施", "评分", "电话", "内容") if lang == "zh" else
             ("id", "state", "overdue", "deadline", "station", "name", "kind", "amenity", "rating", "phone", "text"))
    overdue_word = "逾期" if lang == "zh" else "OVERDUE"
    cells = [[f"#{r['id']}", r["state_label"], overdue_word if r["overdue"] else "", r["deadline"][:16].replace(
        "T", " "), r["station_id"], _cut(r["station_name"], 24), r["kind_label"], r["amenity_label"] or "",
        "" if r["rating"] is None else f"{r['rating']}/5", r["phone"], _cut(" ".join(r["text"].split()), 40)]
        for r in rows]
    widths = [max(_display_width(str(c[i])) for c in [list(heads), *cells]) for i in range(len(heads))]
    for line in [list(heads), *cells]:
        click.echo("  ".join(_ljust(str(c), w) for c, w in zip(line, widths, strict=True)).rstrip())
    n_overdue = sum(bool(r["overdue"]) for r in rows)
    click.echo(f"共 {len(rows)} 条，逾期 {n_overdue} 条" if lang == "zh" else
               f"{len(rows)} report(s), {n_overdue} overdue")


def _cut(text: str, columns: int) -> str:
    """`text` cut to at most `columns` terminal columns, with an ellipsis when cut."""
    out, used = "", 0
    for ch in text:
        width = _display_width(ch)
        if used + width > columns - 1:
            return out + "…"
        out, used = out + ch, used + width
    return out


@feedback_group.command("set")
@click.argument("feedback_id", type=click.IntRange(min=1), metavar="ID")
@click.argument("state", type=click.Choice(FEEDBACK_STATES), metavar="STATE")
@click.option("--user", "user_name", required=True, help="The account that handles it (admin, or the district's "
                                                         "editor): the queue records it.")
@click.option("--note", default=None, help="A note for the record (why it is rejected, what was done).")
@click.option("--expected-state", type=click.Choice(FEEDBACK_STATES),
              help="Refuse (exit 1) if the report is no longer in this state.")
@_database_option
@click.pass_context
@_domain_errors
def feedback_set(ctx: click.Context, feedback_id: int, state: str, user_name: str, note: str | None,
                 expected_state: str | None, database_url: str | None) -> None:
    """Move report ID to STATE (acknowledged, resolved, rejected) as account --user, with an optional --note."""
    from stationmap import feedback

    store = _open_register(ctx, database_url)
    account = store.get_user(user_name)
    if account is None:
        raise click.UsageError(f"No account {user_name!r} in the register (stationmap user list).")
    report = feedback.change_state(store, feedback_id, account, state=state, note=note, expected_state=expected_state)
    click.echo(f"#{report.id} {report.station_id}: {report.state} by {report.state_changed_by}"
               + (f" ({report.note})" if report.note else ""))
