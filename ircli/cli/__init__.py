"""The click layer: parses options, renders results (rich lives here only)."""
