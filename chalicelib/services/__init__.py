"""Use cases. Each takes its ports as arguments and owns its idempotency."""
