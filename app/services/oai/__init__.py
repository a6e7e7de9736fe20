"""OAI-PMH 2.0 (docs/ARCHITECTURE.md: OAI-PMH): the protocol's logic without HTTP. The server's
`/oai` route (services/server/oai_route.py) hands each request's arguments to
`provider.OaiProvider` and sends the XML it returns."""
