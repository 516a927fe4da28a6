"""The kernel every service is built over: user, clock, lock, catalogue, audit, authorize, door."""
