"""Internal helpers, one module per set of rules: not part of the public API, may change in any release."""
