"""The web pages' static files (vendored Leaflet, page scripts), installed as the package ``stationmap.static``."""
