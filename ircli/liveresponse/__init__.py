"""Live response: SSM collector documents, their offline checks, and an SSM-agent substitute."""
