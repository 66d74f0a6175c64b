"""``python -m xsudo``."""

from xsudo.cli import main

main()
