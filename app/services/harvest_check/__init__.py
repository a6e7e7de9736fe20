"""The harvest self-test (issue 12, item 6): what a harvester gets from a running server.

Four checks, each a module, each run against the server's URL over HTTP as an aggregator would:
`oai` (an OAI-PMH walk, its live records against the published datasets), `dcat` (DCAT-AP
3.0.1 SHACL validation of the feed's first page), `schema_org` (a dataset page's JSON-LD as
Google Dataset Search reads it) and `incremental` (a round of changes and deletions since a
version, and a dump checked against the manifest). `run.run_checks` runs them in order and
returns a `findings.Report`; the window (views.harvest_check_dialog) and `main.py check-harvest`
show it. No Qt here. Nothing here raises on a broken server: what fails is an error finding.
"""
