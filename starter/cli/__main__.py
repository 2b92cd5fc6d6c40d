"""`python -m starter.cli`: the `ratchet` command without its console script."""

from starter.cli.main import main

main()
