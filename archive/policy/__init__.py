"""Who may do what: the roles and the one policy module every service asks (DESIGN §7)."""
