"""A WhatsApp Flows client for tests, written from Meta's documented algorithm (not QLink's code).

It does what the WhatsApp client does: wraps a fresh AES-128 key with the business public key
(RSA-OAEP, SHA-256), encrypts the JSON body with AES-GCM (tag appended), signs the raw envelope
with the App Secret (``X-Hub-Signature-256``), and decrypts 200/427 replies with the flipped IV.
``tests/unit/test_flows_crypto.py`` checks it against pywa, an independent implementation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def seal(public_key: rsa.RSAPublicKey, body: dict[str, Any]) -> tuple[dict[str, str], bytes, bytes]:
    """The request envelope for ``body``, with the AES key and IV the reply will use."""
    aes_key, iv = os.urandom(16), os.urandom(16)
    sealed = AESGCM(aes_key).encrypt(iv, json.dumps(body).encode(), None)
    envelope = {
        "encrypted_flow_data": b64(sealed),
        "encrypted_aes_key": b64(public_key.encrypt(aes_key, OAEP)),
        "initial_vector": b64(iv),
    }
    return envelope, aes_key, iv


def open_reply(text: str, aes_key: bytes, iv: bytes) -> dict[str, Any]:
    flipped = bytes(b ^ 0xFF for b in iv)
    plain = AESGCM(aes_key).decrypt(flipped, base64.b64decode(text), None)
    reply: dict[str, Any] = json.loads(plain)
    return reply


def hs256(secret: str, claims: dict[str, Any]) -> str:
    """A compact HS256 JWT (the shape two sources give ``flow_token_signature``)."""

    def part(obj: dict[str, Any]) -> str:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    head = part({"alg": "HS256", "typ": "JWT"}) + "." + part(claims)
    mac = hmac.new(secret.encode(), head.encode(), hashlib.sha256).digest()
    return head + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


@dataclass
class Reply:
    status: int
    body: dict[str, Any] | None
    text: str
    content_type: str


@dataclass
class FlowsClient:
    url: str
    public_key: rsa.RSAPublicKey
    app_secret: str

    def send(
        self,
        body: dict[str, Any],
        *,
        signature: str | None = "valid",
        envelope: dict[str, str] | None = None,
    ) -> Reply:
        sealed, aes_key, iv = seal(self.public_key, body)
        raw = json.dumps(envelope or sealed).encode()
        headers = {"content-type": "application/json"}
        if signature == "valid":
            mac = hmac.new(self.app_secret.encode(), raw, hashlib.sha256).hexdigest()
            headers["x-hub-signature-256"] = f"sha256={mac}"
        elif signature is not None:
            headers["x-hub-signature-256"] = signature
        response = httpx.post(self.url, content=raw, headers=headers, timeout=30)
        decrypted = None
        if response.status_code in (200, 427) and envelope is None:
            decrypted = open_reply(response.text, aes_key, iv)
        return Reply(
            response.status_code,
            decrypted,
            response.text,
            response.headers.get("content-type", ""),
        )
