"""`python -m ailogs` runs the command line."""

from ailogs.cli import main

main()
