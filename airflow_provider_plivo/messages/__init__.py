"""Messages: what Plivo accepts, sending to many numbers exactly once, reading delivery states."""
