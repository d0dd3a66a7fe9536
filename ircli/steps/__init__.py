"""Registered steps: small named units that declare IAM permissions, plan, apply and undo."""
