"""Fake portals for tests: real HTTP servers on loopback (see server.py and faults.py)."""
