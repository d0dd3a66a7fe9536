"""Evidence storage: the Object Lock bucket, shipping a case into it, verifying custody."""
