"""Grid security: pure functions over certificates (no Twisted, no boto3)."""
