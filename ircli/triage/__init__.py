"""GuardDuty triage: read a finding, say what happened in plain words, pick the runbook."""
