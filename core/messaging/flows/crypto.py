"""The Flows data-endpoint encryption, as Meta's "Implementing Endpoint" guide describes it.

A request carries an AES-128 key wrapped with our RSA public key (OAEP, SHA-256), an IV, and the
body encrypted with AES-GCM (the 16-byte tag appended). The reply is encrypted with the same key
and the bit-flipped IV, tag appended, and sent base64 as plain text.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.errors import DomainError

TAG_BYTES = 16
_OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


class CannotDecrypt(DomainError):
    """The request is not decryptable with our key (the client then refetches the public key)."""

    code = "flow_cannot_decrypt"


@dataclass(frozen=True)
class Decrypted:
    body: dict[str, Any]
    aes_key: bytes
    iv: bytes


def generate_private_key_pem() -> bytes:
    """A new RSA-2048 private key as unencrypted PKCS#8 PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key(pem: bytes, password: bytes | None = None) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=password)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("The Flows key must be an RSA private key")
    return key


def public_key_pem(key: rsa.RSAPrivateKey) -> str:
    """The PEM to register with Meta (``whatsapp_business_encryption``)."""
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def decrypt_request(
    key: rsa.RSAPrivateKey,
    *,
    encrypted_flow_data: str,
    encrypted_aes_key: str,
    initial_vector: str,
) -> Decrypted:
    """Unwrap the AES key, decrypt the body and parse it; ``CannotDecrypt`` on any failure."""
    try:
        aes_key = key.decrypt(base64.b64decode(encrypted_aes_key, validate=True), _OAEP)
        iv = base64.b64decode(initial_vector, validate=True)
        blob = base64.b64decode(encrypted_flow_data, validate=True)
        if len(aes_key) != 16 or len(blob) < TAG_BYTES or not iv:
            raise CannotDecrypt("Unexpected key, IV or body length")
        plain = AESGCM(aes_key).decrypt(iv, blob, None)
        body = json.loads(plain.decode("utf-8"))
    except (ValueError, binascii.Error, InvalidTag, UnicodeDecodeError) as exc:
        raise CannotDecrypt("The Flows request could not be decrypted") from exc
    if not isinstance(body, dict):
        raise CannotDecrypt("The decrypted Flows request is not a JSON object")
    return Decrypted(body, aes_key, iv)


def encrypt_response(response: dict[str, Any], aes_key: bytes, iv: bytes) -> str:
    """Encrypt ``response`` with the request's key and the flipped IV; base64 text."""
    flipped = bytes(b ^ 0xFF for b in iv)
    data = json.dumps(response, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(AESGCM(aes_key).encrypt(flipped, data, None)).decode("ascii")
