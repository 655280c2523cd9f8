"""Import the optional heavy dependencies, naming the extra to install when one is missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from stationmap.errors import MissingExtraError

__all__ = ["EXTRAS", "import_extra"]

EXTRAS: dict[str, tuple[str, str]] = {
    "weasyprint": ("pdf", "PDF output"),
    "osmium": ("osm", "Reading OSM extracts (walking distance along streets)"),
    "highspy": ("ilp", "Exact siting (the HiGHS ILP solver)"),
    "rasterio": ("raster", "Population grids as GeoTIFF rasters"),
    "psycopg": ("postgis", "A register in PostgreSQL + PostGIS (postgresql:// database URLs)"),
    "psycopg_pool": ("postgis", "A register in PostgreSQL + PostGIS (postgresql:// database URLs)"),
    "distributed": ("dask", "National and provincial coverage on a Dask cluster (--scheduler)"),
    "pyarrow.parquet": ("dask", "Demand points in GeoParquet, read by row group"),
}
"""Each optional module: the extra that installs it and what needs it."""


def import_extra(module: str) -> ModuleType:
    """
    Import one of the optional modules in `EXTRAS`.

    Parameters
    ----------
    module
        ``weasyprint``, ``osmium``, ``highspy``, ``rasterio``, ``psycopg``, ``psycopg_pool`` or ``distributed``.

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    MissingExtraError
        If it is not installed (or fails to load its system libraries); the message says
        ``pip install 'stationmap[pdf]'`` (or the extra concerned).
    """
    extra, purpose = EXTRAS[module]
    try:
        return importlib.import_module(module)
    except (ImportError, OSError) as err:  # WeasyPrint raises OSError when pango is missing
        msg = (f"{purpose} needs the optional package {module!r}, which is missing or cannot load ({err}); "
               f"install stationmap[{extra}]: pip install 'stationmap[{extra}]' (stationmap[all] installs every "
               "optional part).")
        raise MissingExtraError(msg) from err
