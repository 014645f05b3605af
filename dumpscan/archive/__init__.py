"""Scanning an archive of crash dumps into a queryable index.

Data flows one way: ``discover`` (what is a dump or a container, by content) and
``containers`` (members streamed to temporary files) feed ``worker`` (one dump analyzed
into index rows), which ``scan`` runs on a local process pool (``pool``) or a Dask cluster
and records with ``index`` (the SQLite store); ``queries`` and ``export`` read the index.
"""
