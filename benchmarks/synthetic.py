"""A reproducible synthetic national station set: every benchmark's input.

Stations cluster around real Chinese city centres (WGS-84, approximate), in numbers roughly proportional to each
city's urban population, with realistic attributes drawn from the project's vocabularies. Every record is marked
``demo: true`` and named 合成站点 so no one mistakes it for real data.

    python benchmarks/synthetic.py 200000 -o /tmp/national.geojson
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from stationmap import geo
from stationmap.schema import AMENITIES, HOST_TYPES, SERVED_GROUPS

__all__ = ["CITIES", "make_national"]

# (name, lon, lat, weight ~ urban population in millions), WGS-84 city centres rounded to 0.01 degree.
CITIES = [
    ("北京", 116.40, 39.90, 19), ("上海", 121.47, 31.23, 22), ("广州", 113.26, 23.13, 16), ("深圳", 114.06, 22.54, 17),
    ("重庆", 106.55, 29.56, 16), ("成都", 104.07, 30.57, 14), ("天津", 117.20, 39.08, 11), ("武汉", 114.30, 30.59, 11),
    ("西安", 108.94, 34.34, 10), ("杭州", 120.16, 30.27, 10), ("南京", 118.80, 32.06, 8), ("郑州", 113.62, 34.75, 8),
    ("长沙", 112.94, 28.23, 7), ("沈阳", 123.43, 41.80, 7), ("青岛", 120.38, 36.07, 7), ("苏州", 120.58, 31.30, 7),
    ("东莞", 113.75, 23.02, 9), ("佛山", 113.12, 23.02, 8), ("哈尔滨", 126.53, 45.80, 6), ("大连", 121.61, 38.91, 5),
    ("济南", 117.12, 36.65, 6), ("昆明", 102.83, 24.88, 5), ("合肥", 117.23, 31.82, 6), ("福州", 119.30, 26.08, 4),
    ("厦门", 118.09, 24.48, 4), ("南宁", 108.37, 22.82, 4), ("长春", 125.32, 43.82, 5), ("石家庄", 114.51, 38.04, 5),
    ("太原", 112.55, 37.87, 4), ("南昌", 115.86, 28.68, 4), ("贵阳", 106.63, 26.65, 4), ("乌鲁木齐", 87.62, 43.83, 4),
    ("兰州", 103.83, 36.06, 3), ("呼和浩特", 111.75, 40.84, 2), ("银川", 106.23, 38.49, 2), ("西宁", 101.78, 36.62, 2),
    ("拉萨", 91.13, 29.65, 1), ("海口", 110.20, 20.04, 2), ("三亚", 109.51, 18.25, 1), ("宁波", 121.55, 29.87, 5),
    ("无锡", 120.31, 31.49, 4), ("温州", 120.70, 28.00, 3), ("泉州", 118.68, 24.87, 3), ("徐州", 117.28, 34.20, 3),
    ("洛阳", 112.45, 34.62, 2), ("桂林", 110.29, 25.27, 2), ("宜宾", 104.64, 28.75, 1), ("绵阳", 104.68, 31.47, 2),
    ("喀什", 75.99, 39.47, 1), ("包头", 109.84, 40.66, 2), ("大庆", 125.10, 46.59, 1), ("唐山", 118.18, 39.63, 3),
    ("烟台", 121.45, 37.46, 2), ("潍坊", 119.16, 36.71, 2), ("赣州", 114.93, 25.83, 2), ("遵义", 106.93, 27.73, 2),
    ("柳州", 109.42, 24.33, 2), ("湛江", 110.36, 21.27, 2), ("汕头", 116.68, 23.35, 3), ("珠海", 113.58, 22.27, 2),
]
_HOURS = ["24/7", "Mo-Su 08:00-20:00", "Mo-Fr 08:30-11:30,13:30-17:00", "Mo-Fr 09:00-17:00", "Mo-Su 05:00-21:00",
          "Mo-Sa 07:00-19:00", "Mo-Su 06:00-22:00", "Mo-Fr 08:00-18:00; Sa 09:00-12:00"]
_HOURS_P = [0.2, 0.25, 0.15, 0.1, 0.12, 0.08, 0.06, 0.04]


def make_national(n: int, *, seed: int = 0) -> gpd.GeoDataFrame:
    """
    Return `n` synthetic stations clustered around Chinese cities, reproducibly.

    Parameters
    ----------
    n
        Number of stations.
    seed
        Seed of the random generator; the same seed gives the same set.

    Returns
    -------
    stations
        EPSG:4326 points with the station fields (ids ``SYN-0000001`` ...), all marked ``demo``.
    """
    rng = np.random.default_rng(seed)
    weights = np.array([c[3] for c in CITIES], dtype=float)
    city = rng.choice(len(CITIES), size=n, p=weights / weights.sum())
    centre_lon = np.array([c[1] for c in CITIES])[city]
    centre_lat = np.array([c[2] for c in CITIES])[city]
    # Dense cores and sprawling edges: a half-normal radius with a city-size scale (km), uniform bearing.
    scale_km = 4.0 + 1.2 * np.sqrt(weights[city])
    radius_m = np.abs(rng.normal(0, 1, n)) * scale_km * 1000
    bearing = rng.uniform(0, 360, n)
    lon, lat, _ = geo.GEOD.fwd(centre_lon, centre_lat, bearing, radius_m)
    keep_inside = np.asarray(geo.in_china(lon, lat))
    lon = np.where(keep_inside, lon, centre_lon)
    lat = np.where(keep_inside, lat, centre_lat)
    amen_keys = np.array(AMENITIES.keys)
    amen_p = np.array([0.95 if k in {"drinking_water", "seating", "phone_charging"} else
                       0.6 if k in {"meal_heating", "first_aid", "air_conditioning"} else 0.1 for k in amen_keys])
    has = rng.random((n, len(amen_keys))) < amen_p
    groups = np.array(SERVED_GROUPS.keys[:-1])
    hosts = np.array(HOST_TYPES.keys)
    stars = rng.choice(6, size=n, p=[0.15, 0.1, 0.25, 0.25, 0.15, 0.1])
    frame = pd.DataFrame({
        "id": [f"SYN-{i:07d}" for i in range(1, n + 1)],
        "name": [f"合成站点{CITIES[c][0]}{i:07d}" for i, c in enumerate(city, start=1)],
        "kind": "outdoor_worker_station",
        "address": [f"{CITIES[c][0]}（合成数据）" for c in city],
        "stars": stars,
        "amenities": [list(amen_keys[row]) for row in has],
        "toilet": rng.choice(["onsite", "nearby", "none"], size=n, p=[0.4, 0.5, 0.1]),
        "opening_hours": rng.choice(_HOURS, size=n, p=_HOURS_P),
        "served_groups": [list(rng.choice(groups, size=2, replace=False)) for _ in range(n)],
        "host_type": rng.choice(hosts, size=n),
        "area_m2": np.round(rng.uniform(8, 60, n), 1),
        "capacity": rng.integers(2, 30, n),
        "honours": [[] for _ in range(n)],
        "status": rng.choice(["open", "temporarily_closed"], size=n, p=[0.98, 0.02]),
        "demo": True,
    })
    stations = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(lon, lat), crs=geo.WGS84)
    stations.attrs["metadata"] = {"demo": True, "synthetic": True, "seed": seed,
                                  "notice_en": "Synthetic benchmark data: not real stations.",
                                  "notice_zh": "合成的基准测试数据，并非真实站点。"}
    return stations


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    from stationmap.stations import export_stations

    export_stations(make_national(args.n, seed=args.seed), args.output)
    print(json.dumps({"n": args.n, "seed": args.seed, "output": str(args.output)}))


if __name__ == "__main__":
    _main()
