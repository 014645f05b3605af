"""Analyses over the readers' records and report dicts.

``engine.analyze_path`` / ``engine.analyze_view`` produce a ``dumpscan.report/1``
document from a dump; ``symbolize``, ``totals`` and ``attribution`` are the pure
pieces the engine uses; ``leaks``, ``diff`` and ``batch`` work on report dicts.
"""


def __getattr__(name: str):
    if name in ("analyze_path", "analyze_view"):
        from . import engine
        return getattr(engine, name)
    raise AttributeError(name)
