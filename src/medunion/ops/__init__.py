"""Operations on a whole installation (no Django app, no models): backup and restore.

``medunion backup DEST`` and ``medunion restore SRC`` (``medunion.cli``) call
:mod:`medunion.ops.backup`; the database-specific parts are in :mod:`medunion.ops.sqlite` and
:mod:`medunion.ops.postgres`. See docs/backup.md.
"""
