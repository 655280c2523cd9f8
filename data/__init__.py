"""The bundled data (boundaries, demo station sets, the star rubric), installed as the package ``stationmap.data``."""
