"""dumpscan: find kernel pool leaks in Windows crash dumps, offline."""

__version__ = "0.1.0"
