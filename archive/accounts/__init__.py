"""Staff accounts: `sgz user add|list|remove|passwd`."""
