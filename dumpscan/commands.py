"""The whole ``dumpscan`` command (the console script and ``python -m dumpscan``): the
dump commands of :mod:`dumpscan.cli` and the archive commands of :mod:`dumpscan.cli_archive`
(``scan``, ``query``, ``export``), which build on cli's options."""
from __future__ import annotations

from .cli import main
from .cli_archive import ARCHIVE_COMMANDS

for _command in ARCHIVE_COMMANDS:
    main.add_command(_command)

__all__ = ["main"]
