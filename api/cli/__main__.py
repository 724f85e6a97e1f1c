"""`python -m api.cli`: the `leadflow` command."""

from api.cli import main

main()
