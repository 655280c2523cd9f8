"""Pure analysis functions over GeoDataFrames and arrays: nearest, coverage, gaps, siting, inventory, rating.

Nothing here reads files, environment variables or settings: callers pass ``radius_m=`` and the like explicitly.
"""

from __future__ import annotations

from stationmap.analysis.coverage import (
    CoverageReport,
    DemandCoverage,
    WhatIfReport,
    coverage_report,
    coverage_reports,
    demand_coverage,
    select_in_service,
    service_areas,
    what_if,
)
from stationmap.analysis.gaps import GapReport, find_gaps
from stationmap.analysis.inventory import Inventory, station_inventory
from stationmap.analysis.nearest import NearestIndex, NearestResult, NearestStation, nearest_stations
from stationmap.analysis.network_coverage import NetworkCoverageReport, network_coverage_report
from stationmap.analysis.rating import RatingSummary, StarAssessment, rate_station, rate_stations, summarize_ratings
from stationmap.analysis.siting import (
    SiteChoice,
    SitingResult,
    area_demand,
    candidates_in_gaps,
    cover_all,
    plan_sites,
    propose_sites,
)

__all__ = [
    "CoverageReport",
    "DemandCoverage",
    "GapReport",
    "Inventory",
    "NearestIndex",
    "NearestResult",
    "NearestStation",
    "NetworkCoverageReport",
    "RatingSummary",
    "SiteChoice",
    "SitingResult",
    "StarAssessment",
    "WhatIfReport",
    "area_demand",
    "candidates_in_gaps",
    "cover_all",
    "coverage_report",
    "coverage_reports",
    "demand_coverage",
    "find_gaps",
    "nearest_stations",
    "network_coverage_report",
    "plan_sites",
    "propose_sites",
    "rate_station",
    "rate_stations",
    "select_in_service",
    "service_areas",
    "station_inventory",
    "summarize_ratings",
    "what_if",
]
