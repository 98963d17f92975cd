"""Signed tokens for links (the check-in page, the office screen): a URL-safe base64 body and its
HMAC-SHA256 signature (truncated to 20 bytes), keyed with SECRET_KEY, which bot.bootstrap fills from
the database when the settings leave it unset, so every process signs and checks alike."""
import base64
import hashlib
import hmac


def secret_bytes(secret_key: str | None) -> bytes:
    if not secret_key:
        raise ValueError("SECRET_KEY is empty: bot.bootstrap fills it before anything signs a link")
    return secret_key.encode()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: bytes, body: str) -> str:
    return b64(hmac.new(secret, body.encode(), hashlib.sha256).digest()[:20])


def genuine(secret: bytes, body: str, signature: str) -> bool:
    """The signature is the body's (compared in constant time)."""
    return hmac.compare_digest(sign(secret, body), signature)
