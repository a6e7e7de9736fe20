"""Sync with hosted portals (docs/ARCHITECTURE.md: sync): DataPress, Opendatasoft, CKAN.

Where things are (no Qt anywhere; the GUI calls these on its qasync loop):

- remotes: add_remote / list_remotes / remove_remote / set_remote_key (in a session),
  remote_key, and `await test_connection(database, name)` -> adapter.Access;
- engine: `await plan_pull(...)` / `await plan_push(...)` -> plan.SyncPlan (a preview, nothing
  written), `await apply(database, plan, resolutions)` -> plan.SyncResult; `pull` / `push` do
  both; every one takes `progress=` (services.progress: report and Cancel); its steps are
  context (SyncOptions, the opened remote), planning, apply_local, apply_remote, resolve and
  concurrency;
- plan: SyncPlan, PlanItem, Resolution (KEEP_MINE, TAKE_THEIRS, merged(value)), SyncResult;
- adapter: the PortalAdapter interface, its record/summary/report types and PortalError family;
- http: PortalHttp, the one httpx.AsyncClient wrapper (concurrency, timeouts, retries, 429);
- registry: adapters by kind; merge: the three-way comparison; links: the database side.

Importing this package is cheap: nothing below is imported until used.
"""
