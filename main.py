"""Catalogue Desk entry point: `python main.py` opens the GUI; `python main.py --help` lists the
headless sub-commands."""

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
