"""Catalogue rules in plain Python: no Qt here. The GUI, the CLI and the HTTP server call these."""
