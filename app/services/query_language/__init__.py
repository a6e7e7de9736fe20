"""Seed 003's query language for datasets: parsed once (syntax), into one tree (nodes), over
one table of fields (fields), run as SQL (to_sql) by every surface that searches."""
