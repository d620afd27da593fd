"""The trace store over any SQL database peewee speaks, shared by the ``sqlite`` and
``postgres`` store plugins: tables (``models``), rows to trace objects and back (``codec``),
schema versions (``migrations``, ``schema_check``), the store itself (``store``) and cleanup
(``cleanup``). Backend-neutral: a backend subclasses
:class:`~vlmforge.tracedb.store.PeeweeTraceStore`.
"""
