"""The dataset record: its field table (`fields`), its canonical form (`canonical`) and the
type check of a record from outside (`shape`). Each is derived from the one field table."""
