"""The vault: age objects on disk, their per-object keys, the keyring and the user keyslots."""
