"""Runbooks compiled to Step Functions state machines, and deploying them beside GuardDuty."""
