"""Maintenance scripts: `make notebooks` (notebooks.py) and `make figures` (figures.py)."""
