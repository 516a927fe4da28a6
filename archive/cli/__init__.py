"""The `sgz` command line: a thin click front end over `archive.app.Archive`."""

from archive.cli import zh as _zh

_zh.install()  # before click is imported anywhere in the CLI: its messages become Chinese
