"""Phone numbers: validate and normalise to E.164, encrypt, hash for lookup, mask for display."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

import phonenumbers
from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.errors import ValidationFailed

DEFAULT_REGION = "IN"
_MAX_INPUT = 40  # longer input is not a phone number; do not hand it to the parser
_SALT = b"qlink-data-key-v1"
_INFO_CIPHER = b"qlink phone encryption"
_INFO_LOOKUP = b"qlink phone lookup hash"


def normalise_phone(raw: str, *, region: str = DEFAULT_REGION) -> str:
    """Return ``raw`` as E.164 (``+919876543210``) or raise ``ValidationFailed(field="phone")``."""
    text = (raw or "").strip()
    if not text or len(text) > _MAX_INPUT:
        raise _invalid()
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise _invalid() from exc
    if not phonenumbers.is_valid_number(number):
        raise _invalid()
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(e164: str) -> str:
    """Mask an E.164 number for lists: national number with only the first and last two digits."""
    digits = _national_digits(e164)
    if len(digits) <= 4:
        return "X" * len(digits)
    return digits[:2] + "X" * (len(digits) - 4) + digits[-2:]


def last_four(e164: str) -> str:
    """Return the last four digits of the national number (the stored search suffix)."""
    return _national_digits(e164)[-4:]


@dataclass(frozen=True)
class SealedPhone:
    """What is stored for a phone: ciphertext, keyed lookup hash and the four-digit suffix."""

    cipher: bytes
    lookup_hash: str
    last4: str


class PhoneVault:
    """Encrypts, decrypts and hashes phone numbers with keys derived from the data key."""

    def __init__(self, data_key: str) -> None:
        if not data_key:
            raise ValueError("PhoneVault needs a non-empty data key")
        secret = data_key.encode()
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(secret, _INFO_CIPHER)))
        self._hash_key = _derive(secret, _INFO_LOOKUP)

    def __repr__(self) -> str:
        return "<PhoneVault>"

    def encrypt(self, e164: str) -> bytes:
        """Encrypt a normalised number (Fernet: AES-CBC + HMAC, random IV)."""
        return self._fernet.encrypt(e164.encode())

    def decrypt(self, cipher: bytes) -> str:
        """Decrypt a stored number; raises ``cryptography.fernet.InvalidToken`` on a wrong key."""
        return self._fernet.decrypt(cipher).decode()

    def lookup_hash(self, e164: str) -> str:
        """Return the keyed hash (HMAC-SHA256, hex) used for exact-match lookup."""
        return hmac.new(self._hash_key, e164.encode(), hashlib.sha256).hexdigest()

    def seal(self, e164: str) -> SealedPhone:
        """Return everything stored for a normalised number."""
        return SealedPhone(self.encrypt(e164), self.lookup_hash(e164), last_four(e164))

    def reseal(self, cipher: bytes, *, previous: PhoneVault) -> SealedPhone:
        """Seal a stored number under this key, whether this key or ``previous`` sealed it."""
        e164 = MultiFernet([self._fernet, previous._fernet]).decrypt(cipher).decode()
        return self.seal(e164)

    def masked(self, cipher: bytes | None) -> str | None:
        """Decrypt and mask a stored number (``None`` when there is none)."""
        return None if cipher is None else mask_phone(self.decrypt(cipher))


def _derive(secret: bytes, info: bytes) -> bytes:
    # Separate keys per purpose: leaking the lookup key must not expose the cipher key.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=info).derive(secret)


def _national_digits(e164: str) -> str:
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException as exc:
        raise _invalid() from exc
    return phonenumbers.national_significant_number(number)


def _invalid() -> ValidationFailed:
    # The number itself stays out of the message: errors end up in logs.
    return ValidationFailed("Enter a valid phone number, e.g. 98765 43210", field="phone")
