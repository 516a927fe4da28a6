"""The `sgz` command line: a thin click front end over `archive.core.Archive`."""
