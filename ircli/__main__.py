"""`python -m ircli` runs the CLI."""

from ircli.cli.main import main

main()
