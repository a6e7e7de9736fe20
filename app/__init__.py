"""Catalogue Desk: a desktop catalogue manager for open-data and archival catalogues."""
