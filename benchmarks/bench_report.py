"""Time report generation per bundled district (target: under 5 s each), split into analysis and rendering.

The imports of matplotlib and WeasyPrint (about 3 s, paid once per process) are taken before the clock starts. Next
to each total it prints the obvious alternative: the same report with the UTM zone looked up in PROJ's database for
every new point, as before the zone cache (``geo.utm_crs`` once per centre of bounds, about 0.18 s each).

    python benchmarks/bench_report.py            # all four districts, HTML + PDF + tables
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

from stationmap import geo, report
from stationmap.config import BUNDLED_DATA_DIR
from stationmap.districts import bundled_adcodes, load_district
from stationmap.rubric import Rubric, default_rubric_path, load_rubric
from stationmap.stations import load_stations

DATA = BUNDLED_DATA_DIR


def _one(code: str, rubric: Rubric) -> tuple[int, float, float]:
    """Stations, analysis seconds and render + write seconds of one district's zh report (HTML, PDF, tables)."""
    stations = load_stations(DATA / "stations" / f"{code}.geojson")
    district = load_district(code, data_dir=DATA)
    t0 = time.perf_counter()
    rep = report.build_district_report(stations, district, rubric=rubric, on=dt.date(2026, 11, 23))
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        report.write_report([rep], Path(out), lang="zh")
    return len(stations), t1 - t0, time.perf_counter() - t1


def main() -> None:
    rubric = load_rubric(default_rubric_path(DATA))
    codes = sys.argv[1:] or bundled_adcodes(DATA)
    import matplotlib.pyplot  # noqa: F401  (one-off imports, outside the clock)
    import weasyprint  # noqa: F401

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    # Times are taken without tracemalloc (it slows Python several-fold); memory is the process's peak RSS so far.
    print(f"{'district':<10}{'stations':>9}{'analysis s':>12}{'render+write s':>16}{'total s':>9}"
          f"{'uncached UTM s':>16}{'peak RSS MiB':>14}")
    for code in codes:
        n, analysis, write = _one(code, rubric)
        geo.utm_crs.cache_clear()
        with mock.patch.object(geo, "_plain_utm_epsg", return_value=None):  # every new centre asks PROJ again
            _, analysis_old, write_old = _one(code, rubric)
        geo.utm_crs.cache_clear()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{code:<10}{n:>9}{analysis:>12.2f}{write:>16.2f}{analysis + write:>9.2f}"
              f"{analysis_old + write_old:>16.2f}{peak:>14.0f}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
