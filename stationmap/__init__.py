"""stationmap: a service map for China's trade-union outdoor-worker service stations (工会户外劳动者服务站点).

The public API::

    import stationmap
    stations = stationmap.load_stations("register.geojson")                # GeoDataFrame, EPSG:4326
    report = stationmap.validate_stations("my_stations.geojson")           # every problem at once
    lon, lat = stationmap.gcj02_to_wgs84(lon_array, lat_array)              # numpy arrays or scalars
"""

from stationmap.config import Settings
from stationmap.districts import District, load_boundary_file, load_district
from stationmap.errors import (
    BadRequestError,
    BoundaryError,
    CRSMismatchError,
    DatumError,
    EmptyInputError,
    ImportMappingError,
    MissingExtraError,
    OpeningHoursError,
    StationDataError,
    StationMapError,
    StationNotFoundError,
)
from stationmap.geo import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    convert_coords,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_china,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from stationmap.hours import is_open
from stationmap.importer import ImportResult, import_table
from stationmap.stations import export_stations, load_stations, validate_stations
from stationmap.validation import Problem, ValidationReport

__all__ = [
    "BadRequestError",
    "BoundaryError",
    "CRSMismatchError",
    "DatumError",
    "District",
    "EmptyInputError",
    "ImportMappingError",
    "ImportResult",
    "MissingExtraError",
    "OpeningHoursError",
    "Problem",
    "Settings",
    "StationDataError",
    "StationMapError",
    "StationNotFoundError",
    "ValidationReport",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "convert_coords",
    "export_stations",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "import_table",
    "in_china",
    "is_open",
    "load_boundary_file",
    "load_district",
    "load_stations",
    "validate_stations",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]
__version__ = "0.1.0"
