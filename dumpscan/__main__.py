"""``python -m dumpscan``: the ``dumpscan`` command."""
from .cli import main

main(prog_name="dumpscan")
