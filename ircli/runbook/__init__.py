"""Runbooks as code: YAML files naming registered steps, validated against their declarations.

A runbook answers GuardDuty finding types with an ordered list of the same registered steps
``contain`` and ``disable-keys`` are made of, so a playbook runs the same way every time.
"""
