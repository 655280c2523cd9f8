"""The monthly register update: compare a clerk's table (or a station file) with the register and apply the difference.

The table is matched to the register by station id. Each station is *added* (id not in the register), *changed*
(a field the table carries differs, or it moved more than `POSITION_TOLERANCE_M`), *reopened* (closed in the
register, present in the table), *closed* (open in the register, missing from the table, in the districts the
table covers) or *unchanged*. Only the fields the table carries are compared and written: a column the table lacks
(``last_verified``, say) keeps the register's value. The whole update is one changeset with one comment, and every
change names the version it was planned from, so an edit made in the web app in between fails the update as a
whole (`VersionConflictError`) rather than being overwritten.

Nothing here knows the command line: ``stationmap import TABLE --into URL`` reads the table, calls `plan_update`,
prints `UpdatePlan.describe` and, unless ``--dry-run``, calls `apply_update`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stationmap import geo
from stationmap.districts import District, assign_districts
from stationmap.editing import check_comment
from stationmap.errors import (
    EditConflictError,
    StationDataError,
    VersionConflictError,
)
from stationmap.importer import ImportResult
from stationmap.membership import check_features, merge_problems
from stationmap.stations import load_stations, read_feature_collection, stations_from_features, stations_to_geojson
from stationmap.store import Change, Edit, Snapshot, StationRecord, Store
from stationmap.validation import ValidationReport, is_outside_district, validate_features

__all__ = [
    "MASS_CLOSE_SHARE",
    "NO_ID_PREFIX",
    "POSITION_TOLERANCE_M",
    "FieldChange",
    "PlannedChange",
    "UpdatePlan",
    "UpdateSource",
    "apply_update",
    "field_changes",
    "plan_update",
    "read_station_file",
    "source_from_import",
]

#: A station whose table position is at most this far (geodesic, metres) from the register's has not moved.
POSITION_TOLERANCE_M = 0.5
#: An update may close at most this share of the open stations of the districts it covers (unless allowed).
MASS_CLOSE_SHARE = 0.5
#: The id prefix the importer is given for rows without an id, so that they can be named and refused.
NO_ID_PREFIX = "__no_id__"
_POSITION = "position"
_EMPTY: tuple[Any, ...] = (None, "", [], {})


@dataclass(frozen=True)
class UpdateSource:
    """
    Stations read from a table or station file for an update, validated and placed in their districts.

    Attributes
    ----------
    features
        RFC 7946 Point Features in WGS-84 (lon/lat), ``properties.id`` set.
    codes
        The county-level district of each feature ("" outside China's districts), as
        `districts.assign_districts` places it.
    fields
        The properties the source carries: only these are compared with the register and written to it.
    soft_fields
        Properties the source may set but whose absence says nothing (``toilet`` read from a list of amenities).
    columns
        A table's column headers: keys of a station's ``extra`` named by one of them are the table's to set or
        remove; other keys stay. Empty for a station file, whose ``extra`` is compared whole.
    name
        The file's name, for the default comment.
    report
        The warnings of the import and validation (no errors).
    """

    features: tuple[dict[str, Any], ...]
    codes: tuple[str, ...]
    fields: frozenset[str]
    soft_fields: frozenset[str] = frozenset()
    columns: frozenset[str] = frozenset()
    name: str = ""
    report: ValidationReport | None = None


@dataclass(frozen=True)
class FieldChange:
    """
    One field of one station before and after the update.

    Attributes
    ----------
    field
        The property name, or ``position`` for the point (values ``"lon,lat"`` in WGS-84 degrees).
    before, after
        The values (None: the record has none).
    distance_m
        For ``position``: how far it moved, geodesic metres.
    """

    field: str
    before: Any
    after: Any
    distance_m: float | None = None

    def describe(self) -> str:
        """``field: before → after``, values as JSON-like text, Chinese kept."""
        moved = f" ({self.distance_m:,.1f} m)" if self.distance_m is not None else ""
        return f"{self.field}: {_show(self.before)} → {_show(self.after)}{moved}"


@dataclass(frozen=True)
class PlannedChange:
    """
    What the update does to one station.

    Attributes
    ----------
    station_id, name
        The station (its name after the update, or the register's for a closed one).
    action
        ``add``, ``modify``, ``close`` or ``reopen`` (`store.ACTIONS`).
    after
        The whole Feature after the update (WGS-84).
    district_code
        Its district after the update.
    before
        The register's record the change is based on (None for ``add``): its version is the one expected.
    fields
        The fields that change, in the record's field order (``position`` last).
    """

    station_id: str
    name: str
    action: str
    after: dict[str, Any]
    district_code: str
    before: StationRecord | None = None
    fields: tuple[FieldChange, ...] = ()

    def to_change(self) -> Change:
        """The `store.Change` that makes it, expecting the version the plan was made from."""
        return Change(self.station_id, self.action, self.after, self.district_code,
                      expected_version=None if self.before is None else self.before.version)


@dataclass(frozen=True)
class UpdatePlan:
    """
    The difference between a table and the register: what an update would do, before it is done.

    Attributes
    ----------
    added, changed, reopened, closed
        The stations in each group, by id. ``changed`` are open (or temporarily closed) stations whose fields
        change; a station closed by the table's own ``status`` column is under ``closed``.
    unchanged
        Stations of the table the register already holds as the table says.
    scope
        Adcodes of the districts whose stations missing from the table are closed.
    scope_given
        True when the scope was named (``--district``), False when it is the districts of the table's stations.
    in_scope_open
        Stations of those districts not closed in the register before the update.
    left_alone
        Stations of other districts missing from the table: not touched.
    fields
        The properties the table carries (compared and written), sorted.
    revision
        The register's revision the plan was made from.
    source
        Name of the table or file.
    """

    added: tuple[PlannedChange, ...]
    changed: tuple[PlannedChange, ...]
    reopened: tuple[PlannedChange, ...]
    closed: tuple[PlannedChange, ...]
    unchanged: int
    scope: tuple[str, ...]
    scope_given: bool
    in_scope_open: int
    left_alone: int
    fields: tuple[str, ...]
    revision: int
    source: str = ""

    @property
    def changes(self) -> tuple[PlannedChange, ...]:
        """Every station change, in the order they are applied: added, changed, reopened, closed."""
        return (*self.added, *self.changed, *self.reopened, *self.closed)

    def counts(self) -> dict[str, int]:
        """``{"added": n, "changed": n, "closed": n, "reopened": n, "unchanged": n}``."""
        return {"added": len(self.added), "changed": len(self.changed), "closed": len(self.closed),
                "reopened": len(self.reopened), "unchanged": self.unchanged}

    def mass_close_problem(self) -> str | None:
        """Why the plan closes too much (more than half of the open stations in scope), or None."""
        n = len(self.closed)
        if n == 0 or n <= MASS_CLOSE_SHARE * self.in_scope_open:
            return None
        return (f"The update would close {n} of the {self.in_scope_open} open stations of district(s) "
                f"{', '.join(self.scope) or '(none)'}: more than half. Is it the right file, with every station of "
                "those districts? If the closures are meant, run it again with --allow-mass-close.")

    def describe(self, *, limit: int | None = 50) -> str:
        """
        Say what the update does: the counts, the scope of closing, then each station with its changed fields.

        Parameters
        ----------
        limit
            Stations listed per group (None: all); the rest are counted.

        Returns
        -------
        text
            English, station names as the register has them (Chinese), e.g.::

                added 1 · changed 2 · closed 1 · reopened 1 · unchanged 3
                scope of closing: district 610111 (the districts of the table's stations); 5 open stations there
                ...
                changed:
                  ~ 610111-002 某某驿站
                      name: "旧名" → "新名"
        """
        counts = self.counts()
        lines = [" · ".join(f"{key} {value}" for key, value in counts.items())]
        how = "as named with --district" if self.scope_given else "the districts of the table's stations"
        where = ", ".join(self.scope) or "none"
        lines.append(f"scope of closing: district(s) {where} ({how}); {self.in_scope_open} open station(s) there")
        if self.left_alone:
            lines.append(f"left alone: {self.left_alone} station(s) of other districts missing from the table")
        lines.append(f"fields compared: {', '.join(self.fields) or 'none'} and position; other fields keep the "
                     "register's values")
        groups = (("added", "+", self.added), ("changed", "~", self.changed), ("reopened", "↺", self.reopened),
                  ("closed", "-", self.closed))
        for title, mark, items in groups:
            if not items:
                continue
            lines.append(f"{title}:")
            shown = items if limit is None else items[:limit]
            for item in shown:
                district = f" (district {item.district_code or 'none'})"
                lines.append(f"  {mark} {item.station_id} {item.name}{district if title in ('added', 'closed') else ''}")
                if title != "added":
                    lines.extend(f"      {change.describe()}" for change in item.fields
                                 if not (title == "closed" and change.field == "status"))
            if len(items) > len(shown):
                lines.append(f"  ... and {len(items) - len(shown)} more")
        if not self.changes:
            lines.append("nothing to change: the register already holds the table")
        return "\n".join(lines)


# --- reading the source ----------------------------------------------------------------------------------------


def source_from_import(result: ImportResult, *, data_dir: Path, cache_dir: Path | None = None,
                       district: District | None = None, filled: bool = False) -> UpdateSource:
    """
    Turn an imported clerk's table (`importer.import_table`, already validated) into an update source.

    Parameters
    ----------
    result
        The import; rows without an id must have been given ids starting with `NO_ID_PREFIX` (``id_prefix``).
    data_dir, cache_dir
        Where district boundaries come from.
    district
        The district named with ``--district`` (tried first when placing stations).
    filled
        True when the import filled ``district``/``district_code`` from `district`: those fields count as
        carried by the table.

    Raises
    ------
    StationDataError
        If the table has no id column or rows without an id (stations are matched by id), naming every such row.
    """
    targets = set(result.column_mapping.values())
    name = result.report.source
    if "id" not in targets:
        msg = (f"{name}: the table has no id column (站点编号, 编号 or id); a register update matches stations by "
               "id. Export the register (stationmap export) to get the ids, or import without --into.")
        raise StationDataError(msg)
    doc = stations_to_geojson(result.stations, metadata={})
    features = [_clean_feature(f) for f in doc["features"]]
    missing = [row for row, f in zip(result.rows or (), features, strict=False)
               if str(f["properties"]["id"]).startswith(NO_ID_PREFIX)]
    if missing:
        msg = (f"{name}: {len(missing)} row(s) have no id ({', '.join(missing[:20])}); a register update matches "
               "stations by id: give every row one (a new station a new id, e.g. <adcode>-NNN).")
        raise StationDataError(msg)
    fields = targets - {"lon", "lat", "extra", "id"}
    if "amenities" in fields:
        fields.add("amenities_other")  # items not in the vocabulary go there: the list is the table's
    if fields & {"opening_hours", "opening_hours_raw"}:
        fields |= {"opening_hours", "opening_hours_raw"}  # hours are read into one or the other
    if filled:
        fields |= {"district", "district_code"}
    columns = {str(c) for c, t in result.column_mapping.items() if t == "extra"}
    if columns & {"extra", "其他信息"}:  # our own export's JSON column: the whole extra is the table's
        fields.add("extra")
        columns = set()
    soft = {"toilet"} - fields if "amenities" in fields else set()
    codes = _place(features, data_dir=data_dir, cache_dir=cache_dir, district=district)
    return UpdateSource(features=tuple(features), codes=codes, fields=frozenset(fields), soft_fields=frozenset(soft),
                        columns=frozenset(columns), name=name, report=result.report)


def read_station_file(path: str | Path, *, data_dir: Path, cache_dir: Path | None = None,
                      within: District | None = None) -> UpdateSource:
    """
    Read a station file (GeoJSON or GeoPackage, WGS-84) for an update, checked as `stationmap validate` checks it.

    Every property any station of the file has is compared (a station without it has none).

    Parameters
    ----------
    path
        ``.geojson``/``.json`` FeatureCollection or ``.gpkg`` written by ``stationmap export``.
    data_dir, cache_dir
        Where district boundaries come from.
    within
        A district the stations must lie in (``--district``), else each is checked against the district its
        record names.

    Raises
    ------
    StationDataError
        With every problem, if the file has errors.
    """
    path = Path(path)
    if path.suffix.lower() == ".gpkg":
        doc = stations_to_geojson(load_stations(path), metadata={})
    else:
        doc = read_feature_collection(path)
    report = validate_features(doc, source=path.name)
    if report.ok():
        kept = ValidationReport(tuple(p for p in report.problems if not is_outside_district(p)),
                                report.n_records, report.source)
        report = merge_problems(kept, check_features(doc, within=within, data_dir=data_dir, cache_dir=cache_dir))
    if report.errors:
        raise StationDataError(report.message(limit=100), problems=report.problems)
    features = [_clean_feature(f) for f in doc["features"]]
    fields = {key for f in features for key in f["properties"]} - {"id"}
    codes = _place(features, data_dir=data_dir, cache_dir=cache_dir, district=within)
    return UpdateSource(features=tuple(features), codes=codes, fields=frozenset(fields), name=path.name,
                        report=report)


def _clean_feature(feature: Mapping[str, Any]) -> dict[str, Any]:
    props = {k: v for k, v in dict(feature["properties"]).items() if v is not None}
    sid = str(props.get("id", feature.get("id")))
    props["id"] = sid
    lon, lat = (float(v) for v in feature["geometry"]["coordinates"][:2])
    return {"type": "Feature", "id": sid, "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": props}


def _place(features: Sequence[Mapping[str, Any]], *, data_dir: Path, cache_dir: Path | None,
           district: District | None) -> tuple[str, ...]:
    if not features:
        return ()
    known = {district.adcode: district} if district is not None and district.adcode and \
        district.level == "county" else None
    codes = assign_districts(stations_from_features(features), data_dir=data_dir, cache_dir=cache_dir,
                             known=known).codes
    return tuple(str(c or "") for c in codes)


# --- the plan --------------------------------------------------------------------------------------------------


def plan_update(snapshot: Snapshot, features: Sequence[Mapping[str, Any]], codes: Sequence[str], *,
                fields: Iterable[str] | None = None, soft_fields: Iterable[str] = (),
                columns: Iterable[str] = (), scope_districts: Iterable[str] | None = None,
                source: str = "") -> UpdatePlan:
    """
    Compare the stations of a table with the register and say what an update would change.

    Parameters
    ----------
    snapshot
        The register now (`Store.snapshot`), closed stations included.
    features
        The table's stations: validated Point Features in WGS-84 (lon/lat), ids unique.
    codes
        The district of each feature ("" outside China's districts).
    fields
        The properties the table carries; default every property any feature has. Only these are compared and
        written: the register keeps its values of the others.
    soft_fields
        Properties a feature may set though the table has no column for them (an absent value changes nothing).
    columns
        A table's column headers: the ``extra`` keys the table sets or removes (others stay). Empty: ``extra``
        is compared whole, if it is one of `fields`.
    scope_districts
        Adcodes whose open stations missing from the table are closed; default the districts of `codes`.
        Stations of other districts are never closed.
    source
        The table's name, for the description.

    Returns
    -------
    plan
        Added, changed, reopened and closed stations with their field-level differences; the unchanged count.

    Raises
    ------
    StationDataError
        If `features` and `codes` differ in length, an id appears twice, or a station as the update would
        leave it is invalid (every problem listed).
    """
    if len(features) != len(codes):
        msg = f"plan_update: {len(codes)} district codes for {len(features)} stations."
        raise StationDataError(msg)
    rows = [_clean_feature(f) for f in features]
    ids = [f["id"] for f in rows]
    twice = sorted({sid for sid in ids if ids.count(sid) > 1})
    if twice:
        msg = f"Station ids appear in more than one row of the table: {', '.join(map(repr, twice[:20]))}."
        raise StationDataError(msg)
    covered = (frozenset(fields) if fields is not None else
               frozenset(k for f in rows for k in f["properties"]) - {"id"})
    soft = frozenset(soft_fields) - covered
    table_columns = frozenset(columns)
    register = {r.id: r for r in snapshot.records}
    added: list[PlannedChange] = []
    changed: list[PlannedChange] = []
    reopened: list[PlannedChange] = []
    closed: list[PlannedChange] = []
    unchanged = 0
    for feature, code in zip(rows, codes, strict=True):
        sid = feature["id"]
        record = register.get(sid)
        if record is None:
            added.append(PlannedChange(sid, str(feature["properties"].get("name", "")), "add", feature, str(code)))
            continue
        after = _merge(record.feature, feature, covered=covered, soft=soft, columns=table_columns)
        diffs = field_changes(record.feature, after)
        if not diffs:
            unchanged += 1
            continue
        action = _action(record.status, str(after["properties"].get("status") or "open"))
        item = PlannedChange(sid, str(after["properties"].get("name", "")), action, after, str(code), record,
                             diffs)
        {"reopen": reopened, "close": closed}.get(action, changed).append(item)
    in_table = set(ids)
    scope = (sorted({str(c) for c in scope_districts} - {""}) if scope_districts is not None else
             sorted({str(c) for c in codes} - {""}))
    in_scope_open = 0
    left_alone = 0
    for record in snapshot.records:
        if record.status == "closed":
            continue
        if record.district_code not in scope:
            left_alone += record.id not in in_table
            continue
        in_scope_open += 1
        if record.id in in_table:
            continue
        props = {**record.feature["properties"], "status": "closed"}
        after = {**record.feature, "properties": props}
        closed.append(PlannedChange(record.id, str(props.get("name", "")), "close", after, record.district_code,
                                    record, (FieldChange("status", record.status, "closed"),)))
    plan = UpdatePlan(added=tuple(added), changed=tuple(changed), reopened=tuple(reopened), closed=tuple(closed),
                      unchanged=unchanged, scope=tuple(scope), scope_given=scope_districts is not None,
                      in_scope_open=in_scope_open, left_alone=left_alone, fields=tuple(sorted(covered)),
                      revision=snapshot.revision, source=source)
    _check_results(plan)
    return plan


def _merge(before: Mapping[str, Any], row: Mapping[str, Any], *, covered: frozenset[str], soft: frozenset[str],
           columns: frozenset[str]) -> dict[str, Any]:
    """The register's Feature with the fields the table carries taken from the table."""
    props = dict(before.get("properties") or {})
    given = row["properties"]
    for name in covered:
        if name == "id":
            continue
        if _empty(given.get(name)):
            props.pop(name, None)
        else:
            props[name] = given[name]
    for name in soft:
        if not _empty(given.get(name)):
            props[name] = given[name]
    if columns and "extra" not in covered:
        kept = {k: v for k, v in dict(props.get("extra") or {}).items() if k not in columns}
        extra = {**kept, **dict(given.get("extra") or {})}
        if extra:
            props["extra"] = extra
        else:
            props.pop("extra", None)
    if str(before.get("properties", {}).get("status") or "open") == "closed" and "status" not in covered:
        props["status"] = "open"  # in the table, so open again
    geometry = dict(before.get("geometry") or {})
    (lon0, lat0), (lon1, lat1) = geometry["coordinates"][:2], row["geometry"]["coordinates"][:2]
    if float(geo.geodesic_distance_m(lon0, lat0, lon1, lat1)) > POSITION_TOLERANCE_M:
        geometry = {"type": "Point", "coordinates": [lon1, lat1]}
    return {"type": "Feature", "id": row["id"], "geometry": geometry, "properties": props}


def field_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[FieldChange, ...]:
    """
    Return what differs between two Features of one station: each property, then the position (WGS-84).

    Empty values (None, "", [], {}) count as absent; a moved point gives ``position`` with the distance in metres.
    """
    old, new = before.get("properties") or {}, after["properties"]
    order = [*old, *(k for k in new if k not in old)]
    out = [FieldChange(name, None if _empty(old.get(name)) else old.get(name),
                       None if _empty(new.get(name)) else new.get(name))
           for name in order if not _same(old.get(name), new.get(name))]
    (lon0, lat0), (lon1, lat1) = before["geometry"]["coordinates"][:2], after["geometry"]["coordinates"][:2]
    if (lon0, lat0) != (lon1, lat1):
        distance = float(geo.geodesic_distance_m(lon0, lat0, lon1, lat1))
        out.append(FieldChange(_POSITION, f"{lon0:.6f},{lat0:.6f}", f"{lon1:.6f},{lat1:.6f}", distance))
    return tuple(out)


def _empty(value: Any) -> bool:
    return any(value is e or (type(value) is type(e) and value == e) for e in _EMPTY)


def _same(a: Any, b: Any) -> bool:
    if _empty(a) and _empty(b):
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def _action(before: str, after: str) -> str:
    if after == "closed" and before != "closed":
        return "close"
    if before == "closed" and after != "closed":
        return "reopen"
    return "modify"


def _check_results(plan: UpdatePlan) -> None:
    """Validate every station as the update would leave it; raise with every error, named by station id."""
    items = [p for p in plan.changes if p.action != "close" or p.before is None]
    if not items:
        return
    report = validate_features({"type": "FeatureCollection", "features": [p.after for p in items]},
                               source=plan.source or "update")
    if report.ok():
        return
    names = {f"features[{i}]": f"station {p.station_id}" for i, p in enumerate(items)}
    problems = tuple(dataclasses.replace(p, where=names.get(p.where, p.where)) for p in report.errors)
    report = ValidationReport(problems, len(items), report.source)
    raise StationDataError(report.message(limit=100), problems=problems)


# --- applying it -----------------------------------------------------------------------------------------------


def apply_update(store: Store, plan: UpdatePlan, *, user: str, comment: str,
                 effective_at: dt.datetime | None = None, allow_mass_close: bool = False) -> list[Edit]:
    """
    Apply a plan as one changeset with one comment: every change, or none.

    Parameters
    ----------
    store
        The register the plan was made from.
    plan
        From `plan_update`.
    user
        Recorded as the editor of every edit.
    comment
        The changeset's comment (`editing.check_comment`: at most 500 characters, plain text).
    effective_at
        When the changes took effect (UTC; `hours.day_start_utc` for a date); default now. The store refuses a time
        before a changed station's last edit.
    allow_mass_close
        Allow closing more than half of the open stations in scope (`UpdatePlan.mass_close_problem`).

    Returns
    -------
    edits
        The committed edits (none when the plan changes nothing: no changeset is made).

    Raises
    ------
    StationDataError
        If the plan closes too much and `allow_mass_close` is False.
    VersionConflictError
        If the register changed since the plan was made (a station it changes was edited, or an id it adds was
        added); nothing is applied.
    BadRequestError
        If the comment is too long or `effective_at` is before a station's last edit.
    """
    problem = plan.mass_close_problem()
    if problem and not allow_mass_close:
        raise StationDataError(problem)
    text = check_comment(comment)
    changes = [p.to_change() for p in plan.changes]
    if not changes:
        return []
    try:
        return store.apply(changes, user=user, comment=text, effective_at=effective_at)
    except (VersionConflictError, EditConflictError) as err:
        msg = f"The register changed while the update was prepared ({err}); nothing was applied: run it again."
        raise VersionConflictError(msg, current=getattr(err, "current", None)) from err


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value
    from stationmap.store.base import dump_json

    return dump_json(value)
