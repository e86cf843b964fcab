"""Media files: where they come from, what Plivo accepts, the upload body, the uploader."""
