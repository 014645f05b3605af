"""``python -m dumpscan``: the ``dumpscan`` command."""
from .commands import main

main(prog_name="dumpscan")
