"""The `openprofiles` command line (click): one module per command group, `common` for the options
and runtime they share, `root` for the group that gathers them."""

from openprofiles.cli.root import main

__all__ = ["main"]
