"""Outside access requests (外单位查阅) and people's rights over their data."""
