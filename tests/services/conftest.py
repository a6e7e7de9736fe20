"""The catalogue services' tests run on both engines (tests/engines.py)."""

from tests.engines import both_engines

__all__ = ["both_engines"]
