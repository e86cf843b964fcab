"""The sandbox account's default credentials, apart so that ``plivo-sandbox --help`` needs no extra."""

__all__ = ["SANDBOX_AUTH_ID", "SANDBOX_AUTH_TOKEN"]

SANDBOX_AUTH_ID = "MASANDBOX00000000000"
SANDBOX_AUTH_TOKEN = "sandbox-auth-token"
