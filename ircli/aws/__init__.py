"""Small per-service helpers the steps share (lookups, names, ARNs)."""
