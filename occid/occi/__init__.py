"""The OCCI model and its renderings, pure (no Twisted, no boto3)."""
