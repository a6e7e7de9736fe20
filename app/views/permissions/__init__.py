"""The permissions view's parts: one widget per tab and the small item models they show.

The view itself is views.permissions_view.PermissionsView; nothing is re-exported here, so the
modules of this package import each other directly.
"""
