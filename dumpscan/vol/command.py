"""``dumpscan vol ARGS...``: Volatility3's own command line, with dumpscan's plugins.

Volatility3 (2.28) finds plugins only in ``volatility3.plugins.__path__``: its own two
plugin folders (``constants.PLUGINS_PATH``, which that ``__path__`` is), the folders of
``-p/--plugin-dirs`` put in front of them, or ``plugin_dirs`` in
``~/.config/volatility3/vol.json``. It has no entry points and no environment variable,
so a pip-installed package cannot add plugins to a plain ``vol`` without writing into
Volatility's own package folder. dumpscan ships its plugin folder as package data
(:data:`PLUGIN_DIR`) and runs ``volatility3.cli`` with that folder added to the plugin
path, exactly as ``vol -p PLUGIN_DIR`` would; the arguments go to Volatility untouched.
"""
from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

PLUGIN_DIR = Path(__file__).resolve().parents[1] / "volplugins"


def add_plugin_dir() -> None:
    """Put :data:`PLUGIN_DIR` first on Volatility's plugin path (also behind any ``-p``
    folders, which Volatility prepends to ``constants.PLUGINS_PATH``)."""
    import volatility3.plugins
    from volatility3.framework import constants

    folder = str(PLUGIN_DIR)
    for path in (constants.PLUGINS_PATH, volatility3.plugins.__path__):
        if folder not in path:
            path.insert(0, folder)
    for name, module in list(sys.modules.items()):  # OS subpackages imported already
        if name.startswith("volatility3.plugins.") and name.count(".") == 2:
            sub = str(PLUGIN_DIR / name.rsplit(".", 1)[1])
            if Path(sub).is_dir() and sub not in module.__path__:
                module.__path__.insert(0, sub)


def run_volatility(args: Sequence[str], prog: str = "dumpscan vol") -> None:
    """Run Volatility's command line on ``args`` with dumpscan's plugins (exits the way
    ``vol`` does: SystemExit with its status on errors)."""
    from volatility3 import cli

    add_plugin_dir()
    sys.argv = [prog, *args]
    cli.main()
