"""The EC2 backend: blocking boto3 code, run in a dedicated thread pool."""
