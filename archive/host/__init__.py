"""The computer sgz runs on: what it may do with an unlocked process's memory."""
