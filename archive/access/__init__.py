"""Access control: roles, the policy (`archive.access.policy`) and its generated table."""
