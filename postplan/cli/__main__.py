"""`python -m postplan.cli`."""

from postplan.cli import main

main()
