"""The command line: `edgeunet.cli:main` is the console script."""

from edgeunet.cli.app import cli, main

__all__ = ["cli", "main"]
