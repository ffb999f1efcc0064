"""`python -m mvvm` is the `mvvm` command."""

from mvvm.cli import entry

entry()
