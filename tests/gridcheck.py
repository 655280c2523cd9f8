"""Small GeoTIFF population grids written by the tests of demand read in chunks and of national coverage."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def north_up(west: float, north: float, cell: float) -> object:
    """The affine transform of a north-up grid of square cells whose top-left corner is (west, north)."""
    from rasterio.transform import Affine

    return Affine(cell, 0.0, west, 0.0, -cell, north)


def write_population_grid(path: Path) -> Path:
    """A 120 x 110 grid of 0.001-degree cells (EPSG:4326) west 108.905, north 34.33: whole numbers 0-49 with 5 %
    no-data (-1), stored in 16 x 16 blocks (so windows cut through blocks). Seeded: the same grid every run."""
    import rasterio

    rng = np.random.default_rng(7)
    values = rng.integers(0, 50, size=(110, 120)).astype("float32")
    values[rng.random(values.shape) < 0.05] = -1.0  # no-data
    with rasterio.open(path, "w", driver="GTiff", width=120, height=110, count=1, dtype="float32", crs="EPSG:4326",
                       transform=north_up(108.905, 34.33, 0.001), nodata=-1.0, tiled=True,
                       blockxsize=16, blockysize=16) as dst:
        dst.write(values, 1)
    return path


def write_ones(path: Path, crs: str | None, origin: tuple[float, float]) -> Path:
    """A 4 x 4 grid of ones, 0.01 units a cell, top-left at `origin`, in `crs` (None: a file stating no CRS)."""
    import rasterio

    with rasterio.open(path, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32", crs=crs,
                       transform=north_up(*origin, 0.01)) as dst:
        dst.write(np.ones((4, 4), dtype="float32"), 1)
    return path
