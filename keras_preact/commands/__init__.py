"""Subcommands of the `keras-preact` command line, one module each."""
