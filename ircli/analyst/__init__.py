"""The analyst workstation: a forensic network, a read-only role, an instance, evidence disks."""
