"""Compose one district's coverage report: every figure it shows, computed by the analysis functions.

Nothing here draws or writes: :mod:`stationmap.report.figures` draws the charts and the map,
:mod:`stationmap.report.render` lays the report out as HTML and PDF in Chinese or English.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from stationmap import hours
from stationmap.analysis.coverage import CoverageReport, coverage_report, service_areas
from stationmap.analysis.gap_units import GapUnits, split_gaps
from stationmap.analysis.gaps import GapReport, find_gaps
from stationmap.analysis.inventory import Inventory, station_inventory
from stationmap.analysis.rating import (
    FeedbackTrigger,
    RatingSummary,
    feedback_triggers,
    rate_stations,
    summarize_ratings,
)
from stationmap.analysis.siting import SitingResult, plan_sites
from stationmap.demand import InputSource
from stationmap.districts import District
from stationmap.errors import BadRequestError, EmptyInputError
from stationmap.feedback import KINDS as FEEDBACK_KINDS
from stationmap.network import WalkNetwork, read_walk_network
from stationmap.parameters import RADIUS_M, REPORT_RADII_M, REPORT_SITES
from stationmap.rubric import Rubric
from stationmap.stations import validate_stations
from stationmap.store import OPEN_FEEDBACK_STATES
from stationmap.validation import ValidationReport

if TYPE_CHECKING:
    from stationmap.store import Feedback

__all__ = ["DEFAULT_RADII_M", "DEFAULT_TIMES", "MIN_RATINGS_FOR_MEAN", "DistrictReport", "FeedbackFigures", "Progress",
           "build_district_report", "feedback_figures", "map_cell_m", "summary_table"]

DEFAULT_RADII_M = REPORT_RADII_M
DEFAULT_TIMES = ("05:00", "12:30", "22:00")

#: Called with a short label before each step of :func:`build_district_report`.
Progress = Callable[[str], None]

#: Grid cell sides (metres) the map's gap shading picks from: 1 km unless the district needs a coarser grid.
_MAP_CELLS_M = (1000.0, 2000.0, 5000.0, 10_000.0)
#: Most grid cells (district area over cell area) the map shades: a readable grid at A4 width.
_MAP_MAX_CELLS = 400
#: Streets are kept this far (degrees, about 2 km) beyond the district's bounds, so the base layer reaches the frame.
_STREET_MARGIN_DEG = 0.02
#: Fewest ratings whose mean the report prints (fewer: the count only). Local choice.
MIN_RATINGS_FOR_MEAN = 3


@dataclass(frozen=True)
class FeedbackFigures:
    """
    Workers' feedback on a district's stations over the last 12 months, as the report prints it.

    Attributes
    ----------
    start, end
        The period: the 12 months up to the end of `end` (Asia/Shanghai days; `end` is the as-of day or today).
    n_reports
        Reports filed in the period, every kind.
    by_kind
        (kind, reports filed in the period, of them still open at the end), for every kind of
        `stationmap.feedback.KINDS` in its order.
    resolve_days
        Calendar days from filing to "resolved" of each problem report (not ``confirm_open``) filed in the period
        and resolved by its end, in filing order.
    n_open, n_overdue
        Problem reports open (``new`` or ``acknowledged``) at the end of the period, whenever filed, and how many
        of them are past their deadline.
    n_ratings, mean_rating
        Ratings (1-5) given in the period, and their mean: None with fewer than `MIN_RATINGS_FOR_MEAN`.
    n_confirmations, n_confirmed_stations
        "Here and open" confirmations in the period, and at how many stations.
    triggers
        The star downgrade triggers workers' reports fire (`stationmap.analysis.rating.feedback_triggers`),
        station by station in id order.
    """

    start: dt.date
    end: dt.date
    n_reports: int
    by_kind: tuple[tuple[str, int, int], ...]
    resolve_days: tuple[float, ...]
    n_open: int
    n_overdue: int
    n_ratings: int
    mean_rating: float | None
    n_confirmations: int
    n_confirmed_stations: int
    triggers: tuple[FeedbackTrigger, ...] = ()

    @property
    def median_resolve_days(self) -> float | None:
        """Median of `resolve_days` (calendar days), or None when no report was resolved."""
        return float(statistics.median(self.resolve_days)) if self.resolve_days else None

    @property
    def pct_overdue(self) -> float | None:
        """Share of the open reports that are overdue, percent; None when none is open."""
        return 100.0 * self.n_overdue / self.n_open if self.n_open else None


def feedback_figures(reports: Sequence[Feedback], *, now: dt.datetime,
                     triggers: Sequence[FeedbackTrigger] = ()) -> FeedbackFigures:
    """
    Count workers' reports for a district report: by kind, time to resolve, overdue share, ratings, confirmations.

    A report is judged as it stood at `now`: one filed later is left out, one whose state changed later counts
    as still ``new`` (the queue keeps only a report's latest state), as the star review does.

    Parameters
    ----------
    reports
        `stationmap.store.Feedback` records of the district's stations.
    now
        The end of the period, timezone-aware (the end of the as-of day, or now).
    triggers
        The downgrade triggers the same reports fire, kept with the figures.

    Raises
    ------
    BadRequestError
        If `now` has no timezone.
    """
    if now.tzinfo is None:
        msg = f"now must be timezone-aware, got {now.isoformat()}"
        raise BadRequestError(msg)
    end = now.astimezone(hours.TZ).date()
    start = _year_before(end) + dt.timedelta(days=1)
    seen = [(r, r.state_at(now)) for r in reports if r.created_at <= now]
    period = sorted(((r, s) for r, s in seen if r.created_at.astimezone(hours.TZ).date() >= start),
                    key=lambda e: (e[0].created_at, e[0].id))
    problems = [(r, s) for r, s in seen if r.kind != "confirm_open"]
    still_open = [r for r, s in problems if s in OPEN_FEEDBACK_STATES]
    by_kind = tuple((kind, sum(r.kind == kind for r, _ in period),
                     sum(r.kind == kind and s in OPEN_FEEDBACK_STATES for r, s in period)) for kind in FEEDBACK_KINDS.keys)
    resolved = [(r.state_changed_at - r.created_at).total_seconds() / 86_400 for r, s in period
                if s == "resolved" and r.kind != "confirm_open" and r.state_changed_at is not None]
    ratings = [r.rating for r, _ in period if r.rating is not None]
    confirmations = [r for r, _ in period if r.kind == "confirm_open"]
    return FeedbackFigures(
        start=start, end=end, n_reports=len(period), by_kind=by_kind, resolve_days=tuple(resolved),
        n_open=len(still_open), n_overdue=sum(now > r.deadline for r in still_open), n_ratings=len(ratings),
        mean_rating=statistics.fmean(ratings) if len(ratings) >= MIN_RATINGS_FOR_MEAN else None,
        n_confirmations=len(confirmations), n_confirmed_stations=len({r.station_id for r in confirmations}),
        triggers=tuple(sorted(triggers, key=lambda t: (t.station_id, t.trigger))))


def _year_before(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


@dataclass(frozen=True)
class DistrictReport:
    """
    Everything one district's report shows.

    Attributes
    ----------
    district
        The district (boundary in EPSG:4326).
    on
        Date whose weekday the time-of-day figures use (Asia/Shanghai).
    radius_m
        The headline service radius in metres (gaps, time of day, siting).
    inventory
        Headline counts.
    coverage
        Coverage at each radius (straight-line distance, local UTM).
    coverage_by_time
        Coverage at `radius_m` using only the stations open at each time of `on`.
    gaps
        Uncovered parts of the district at `radius_m`.
    sites
        Proposed new sites (maximal covering, k sites), or None when there was no gap to place them in.
    ratings
        Per-station rubric assessment (one row per station), its words in Chinese.
    rating_summary
        Counts of recorded vs qualified stars and review candidates.
    validation
        Data-quality problems of the station set against this district.
    data_date
        Latest ``last_verified`` of the stations, or None.
    as_of
        The day the register was read as of (``--as-of``), or None for the register as it is.
    demo
        Whether the station set is demo data (the report then carries the notice).
    stations
        The stations the figures were computed from, EPSG:4326.
    covered
        The area within `radius_m` of a station, EPSG:4326.
    ratings_en
        `ratings` with its words in English (the English report's review list), or None.
    gap_units
        The gaps split into square grid cells (`split_gaps` by grid, 1 km or coarser so the district has tens to a
        few hundred cells) for the map's shading and its table, or None without gaps.
    streets
        Walkable streets of an OSM extract near the district (EPSG:4326 LineStrings), the map's base layer, or
        None when no extract was given.
    demand_from, candidates_from
        Where the demand and the proposed sites' candidates came from (a file or an OSM extract), or None: demand
        is then the district's area, candidates points in the gaps.
    n_candidates
        How many candidate sites were given for this district, or None when they were generated.
    feedback
        Workers' feedback figures, or None when the stations were not read from a register (no reports known).
    """

    district: District
    on: dt.date
    radius_m: float
    inventory: Inventory
    coverage: tuple[CoverageReport, ...]
    coverage_by_time: tuple[CoverageReport, ...]
    gaps: GapReport
    sites: SitingResult | None
    ratings: pd.DataFrame = field(compare=False, repr=False)
    rating_summary: RatingSummary = field(compare=False)
    validation: ValidationReport = field(compare=False)
    data_date: str | None = None
    as_of: dt.date | None = None
    demo: bool = False
    stations: gpd.GeoDataFrame = field(default=None, compare=False, repr=False)
    covered: gpd.GeoDataFrame | None = field(default=None, compare=False, repr=False)
    ratings_en: pd.DataFrame | None = field(default=None, compare=False, repr=False)
    gap_units: GapUnits | None = field(default=None, compare=False, repr=False)
    streets: gpd.GeoDataFrame | None = field(default=None, compare=False, repr=False)
    demand_from: InputSource | None = None
    candidates_from: InputSource | None = None
    n_candidates: int | None = None
    feedback: FeedbackFigures | None = field(default=None, compare=False)

    def ratings_in(self, lang: str) -> pd.DataFrame:
        """The rubric assessment with its words in `lang` (``zh`` or ``en``)."""
        return self.ratings_en if lang == "en" and self.ratings_en is not None else self.ratings

    @property
    def title(self) -> str:
        """District name with its city, e.g. 西安市灞桥区."""
        return self.district.label or self.district.adcode


def build_district_report(stations: gpd.GeoDataFrame, district: District, *, rubric: Rubric,
                          radii_m: Sequence[float] = DEFAULT_RADII_M, radius_m: float = RADIUS_M.default,
                          times: Sequence[str] = DEFAULT_TIMES, on: dt.date | None = None,
                          as_of: dt.date | None = None,
                          demand: gpd.GeoDataFrame | None = None, weight_col: str = "weight",
                          demand_from: InputSource | None = None, candidates: gpd.GeoDataFrame | None = None,
                          candidates_from: InputSource | None = None, k_sites: int = REPORT_SITES.default, osm_path: str | Path | None = None,
                          network: WalkNetwork | None = None, progress: Progress | None = None,
                          feedback: Sequence[Feedback] | None = None,
                          feedback_at: dt.datetime | None = None) -> DistrictReport:
    """
    Compute every figure of one district's coverage report.

    Parameters
    ----------
    stations
        The district's stations, EPSG:4326.
    district
        The district boundary (EPSG:4326).
    rubric
        Star rubric for the review list.
    radii_m
        Service radii in metres for the coverage table.
    radius_m
        Headline radius in metres, used for gaps, time of day and siting.
    times
        ``HH:MM`` times of day for the time-of-day coverage.
    on
        Date whose weekday those times fall on (default: `as_of`, else today in Asia/Shanghai).
    as_of
        The day the stations were read as of from the register's history (shown in the report), or None.
    demand, weight_col
        Optional demand layer (points or polygons, EPSG:4326) and its weight column.
    demand_from
        Where `demand` came from (`stationmap.demand.read_planning_inputs`), named in the report and in the sites'
        ``demand_source``.
    candidates, candidates_from
        Candidate sites for the proposed sites (EPSG:4326 points, already those of this district) and where they
        came from; None generates candidates inside the gaps.
    k_sites
        Number of new sites to propose (0 for none).
    osm_path
        An OSM extract (``.osm``, ``.osm.bz2``, ``.osm.pbf``) whose walkable streets the map draws as its base layer,
        read offline; or None.
    network
        The same streets already read (`read_walk_network`); used instead of `osm_path`.
    progress
        Called with a short label before each step, for progress bars.
    feedback
        Workers' reports on these stations from the register (`stationmap.feedback.reports_on`), or None when the
        stations came from files: the report then says the feedback is not available. The star review counts the
        downgrade triggers they fire.
    feedback_at
        The moment the reports are judged at, timezone-aware (default: the end of the `as_of` day, else now).

    Returns
    -------
    report
        All figures; areas in square metres computed in local UTM.

    Raises
    ------
    EmptyInputError
        If there are no stations, or the extract has no walkable street.
    BadRequestError
        If a radius or time is out of range, or the OSM extract is missing or unreadable.
    """
    step = progress or (lambda _label: None)
    on = on or as_of or dt.datetime.now(hours.TZ).date()
    if not radii_m:
        msg = "Give at least one radius."
        raise BadRequestError(msg)
    region = district.geometry
    name = district.label
    step("inventory")
    inventory = station_inventory(stations)
    step("coverage")
    coverage = tuple(coverage_report(stations, region, radius_m=r, demand=demand, weight_col=weight_col,
                                     region_name=name) for r in radii_m)
    step("time of day")
    by_time = []
    for t in times:
        when = hours.resolve_when(f"{on.isoformat()}T{t}")
        try:
            by_time.append(coverage_report(stations, region, radius_m=radius_m, when=when, demand=demand,
                                           weight_col=weight_col, region_name=name))
        except EmptyInputError:  # nobody open at that hour: zero coverage, said as such
            by_time.append(_nobody_open(stations, region, radius_m=radius_m, when=when, name=name))
    step("gaps")
    gaps = find_gaps(stations, region, radius_m=radius_m, demand=demand, weight_col=weight_col, region_name=name)
    sites = None
    if k_sites > 0 and gaps.n_gaps > 0:
        step("siting")
        try:
            sites = plan_sites(stations, region, k=k_sites, radius_m=radius_m, demand=demand,
                               weight_col=weight_col if demand is not None else "weight", candidates=candidates,
                               demand_source=demand_from.text if demand_from is not None else None)
        except EmptyInputError:
            sites = None
    gap_units = None
    if gaps.n_gaps > 0:
        step("gap cells")
        gap_units = split_gaps(gaps, stations, region, by="grid", cell_m=map_cell_m(gaps.region_area_m2))
    streets = None
    if network is None and osm_path is not None:
        step("streets")
        network = read_walk_network(osm_path, largest_component=False)
    if network is not None:
        streets = _streets_near(network, region)
    step("stars")
    figures = None
    fired: dict[str, tuple[FeedbackTrigger, ...]] | None = None
    if feedback is not None:
        at = feedback_at or (hours.day_end_utc(as_of) if as_of is not None else dt.datetime.now(dt.UTC))
        ids = {str(i) for i in stations["id"]} if "id" in stations else set()
        mine = [r for r in feedback if r.station_id in ids]
        fired = feedback_triggers(mine, rubric, now=at)
        figures = feedback_figures(mine, now=at, triggers=[t for ts in fired.values() for t in ts])
    ratings = rate_stations(stations, rubric, triggers=fired)
    validation = validate_stations(stations, districts={district.adcode: region} if district.adcode else None)
    verified = [v for v in stations.get("last_verified", []) if isinstance(v, str)]
    covered = service_areas(stations, region, radius_m=radius_m)
    demo = bool(stations.attrs.get("metadata", {}).get("demo")) or bool(stations.get("demo", pd.Series()).any())
    return DistrictReport(district=district, on=on, radius_m=float(radius_m), inventory=inventory, coverage=coverage,
                          coverage_by_time=tuple(by_time), gaps=gaps, sites=sites, ratings=ratings,
                          rating_summary=summarize_ratings(ratings), validation=validation,
                          data_date=max(verified) if verified else None, as_of=as_of, demo=demo, stations=stations,
                          covered=covered, ratings_en=rate_stations(stations, rubric, lang="en", triggers=fired),
                          gap_units=gap_units, streets=streets, demand_from=demand_from,
                          candidates_from=candidates_from if candidates is not None else None,
                          n_candidates=len(candidates) if candidates is not None else None, feedback=figures)


def map_cell_m(area_m2: float) -> float:
    """
    Return the grid cell side (metres) of the map's gap shading for a district of `area_m2` square metres.

    1 km, the planning unit, unless the district would have more than a few hundred cells; then 2, 5 or 10 km.
    """
    return next((c for c in _MAP_CELLS_M if area_m2 / c**2 <= _MAP_MAX_CELLS), _MAP_CELLS_M[-1])


def _streets_near(network: WalkNetwork, region: Any) -> gpd.GeoDataFrame:
    """The network's street segments with an end within the district's bounds (plus a margin), EPSG:4326."""
    xmin, ymin, xmax, ymax = region.bounds
    m = _STREET_MARGIN_DEG
    lon, lat = network.lon, network.lat
    near = (lon >= xmin - m) & (lon <= xmax + m) & (lat >= ymin - m) & (lat <= ymax + m)
    keep = near[network.u] | near[network.v]
    edges = network.edges_frame()
    return edges[np.asarray(keep)].reset_index(drop=True)


def _nobody_open(stations: gpd.GeoDataFrame, region: Any, *, radius_m: float, when: dt.datetime,
                 name: str) -> CoverageReport:
    base = coverage_report(stations, region, radius_m=radius_m, region_name=name)
    return CoverageReport(radius_m=base.radius_m, distance_model=base.distance_model, crs=base.crs,
                          when=when.isoformat(), n_stations=base.n_stations, n_used=0, region_name=name,
                          region_area_m2=base.region_area_m2, covered_area_m2=0.0, covered_twice_area_m2=0.0,
                          pct_area_covered=0.0, pct_area_covered_twice=0.0,
                          notes=("No station is open at this time.",))


def summary_table(reports: Sequence[DistrictReport]) -> pd.DataFrame:
    """
    Return one row per district for side-by-side comparison.

    Columns: adcode, district, stations, open, 24h, honours, visits, area_km2, covered_pct and covered_twice_pct at
    the headline radius, covered_pct at each time of day, gaps and review candidates.
    """
    rows = []
    for r in reports:
        head = next((c for c in r.coverage if c.radius_m == r.radius_m), r.coverage[0])
        row = {"adcode": r.district.adcode, "district": r.title, "stations": r.inventory.n_stations,
               "open": r.inventory.n_open, "always_open": r.inventory.n_always_open,
               "honours": len(r.inventory.honours), "visits": r.inventory.visits,
               "area_km2": round((head.region_area_m2 or 0) / 1e6, 1), "radius_m": int(r.radius_m),
               "covered_pct": head.pct_area_covered, "covered_twice_pct": head.pct_area_covered_twice}
        for c in r.coverage_by_time:
            row[f"covered_pct_{c.when[11:16] if c.when else ''}"] = c.pct_area_covered
        row.update(gaps=r.gaps.n_gaps, review_candidates=r.rating_summary.n_review_candidates)
        rows.append(row)
    return pd.DataFrame(rows)
