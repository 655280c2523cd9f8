"""Time report generation per bundled district (target: under 10 s each), split into analysis and rendering.

The first district also pays the one-off imports of matplotlib and WeasyPrint (about 3 s).

    python benchmarks/bench_report.py            # all four districts, HTML + PDF + tables
"""

from __future__ import annotations

import datetime as dt
import resource
import sys
import tempfile
import time
from pathlib import Path

from stationmap import report
from stationmap.config import BUNDLED_DATA_DIR
from stationmap.districts import bundled_adcodes, load_district
from stationmap.rubric import default_rubric_path, load_rubric
from stationmap.stations import load_stations

DATA = BUNDLED_DATA_DIR


def main() -> None:
    rubric = load_rubric(default_rubric_path(DATA))
    codes = sys.argv[1:] or bundled_adcodes(DATA)
    # Times are taken without tracemalloc (it slows Python several-fold); memory is the process's peak RSS so far.
    print(f"{'district':<10}{'stations':>9}{'analysis s':>12}{'render+write s':>16}{'total s':>9}{'peak RSS MiB':>14}")
    for code in codes:
        stations = load_stations(DATA / "stations" / f"{code}.geojson")
        district = load_district(code, data_dir=DATA)
        t0 = time.perf_counter()
        rep = report.build_district_report(stations, district, rubric=rubric, on=dt.date(2026, 11, 23))
        t1 = time.perf_counter()
        with tempfile.TemporaryDirectory() as out:
            report.write_report([rep], Path(out), lang="zh")
        t2 = time.perf_counter()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{code:<10}{len(stations):>9}{t1 - t0:>12.2f}{t2 - t1:>16.2f}{t2 - t0:>9.2f}{peak:>14.0f}")


if __name__ == "__main__":
    main()
