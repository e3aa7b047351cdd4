"""What the staff console keeps besides the case tables: sign-in sessions, case photos, the review figures.

Each module is a store component with its own tables (:meth:`gridgis.store.Store.migrate_component`):
:mod:`gridgis.console.sessions` (``console_sessions``), :mod:`gridgis.console.photos` (``case_photos``,
files under ``GRIDGIS_UPLOAD_DIR``); :mod:`gridgis.console.query` reads the case tables for the
console's list and map; :mod:`gridgis.console.review` computes the monthly review (考核) figures.
"""
