"""The local lab: a realistic account on the local AWS emulator, for rehearsal and tests."""
