"""Talking to Plivo: the account, the sans-I/O core, the blocking and async drivers, the limiter."""
