"""Contract checks against vendored upstream descriptions (GitHub OpenAPI, Foreman CRDs)."""
