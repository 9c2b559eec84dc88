"""The `storm` command line (Typer + Rich). Each command lives in its own module."""
