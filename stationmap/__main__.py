"""Run the command line with ``python -m stationmap``."""

from stationmap.cli import main

if __name__ == "__main__":
    main()
