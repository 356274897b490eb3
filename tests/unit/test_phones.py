from __future__ import annotations

import pytest
from cryptography.fernet import InvalidToken

from core.errors import ValidationFailed
from core.patients.phones import PhoneVault, last_four, mask_phone, normalise_phone

SAME_NUMBER = [
    "98765 43210",
    "+91-98765-43210",
    "098765 43210",
    "919876543210",
    "+91 98765 43210",
    "0091 98765 43210",
    "(0) 98765-43210",
]


@pytest.mark.parametrize("raw", SAME_NUMBER)
def test_common_indian_formats_normalise_to_one_e164(raw):
    assert normalise_phone(raw) == "+919876543210"


def test_foreign_number_with_country_code_is_kept():
    assert normalise_phone("+44 20 7946 0958") == "+442079460958"


@pytest.mark.parametrize(
    "raw", ["", "   ", "12345", "9876543", "abc", "98765 43210 98765 43210 98765 43210 98"]
)
def test_invalid_numbers_are_rejected_on_the_phone_field(raw):
    with pytest.raises(ValidationFailed) as caught:
        normalise_phone(raw)
    assert caught.value.field == "phone"


def test_error_message_does_not_echo_the_number():
    with pytest.raises(ValidationFailed) as caught:
        normalise_phone("9876543")
    assert "9876543" not in caught.value.message


def test_mask_shows_first_and_last_two_digits_of_national_number():
    assert mask_phone("+919876543221") == "98XXXXXX21"


def test_last_four_is_the_national_suffix():
    assert last_four("+919876543221") == "3221"


def test_encrypt_then_decrypt_round_trips():
    vault = PhoneVault("any data key")
    cipher = vault.encrypt("+919876543210")
    assert b"9876543210" not in cipher
    assert vault.decrypt(cipher) == "+919876543210"


def test_ciphertext_differs_each_time_but_hash_is_stable():
    vault = PhoneVault("any data key")
    assert vault.encrypt("+919876543210") != vault.encrypt("+919876543210")
    assert vault.lookup_hash("+919876543210") == vault.lookup_hash("+919876543210")
    assert len(vault.lookup_hash("+919876543210")) == 64


def test_hash_is_keyed_by_the_data_key():
    number = "+919876543210"
    assert PhoneVault("key one").lookup_hash(number) != PhoneVault("key two").lookup_hash(number)


def test_another_key_cannot_decrypt():
    cipher = PhoneVault("key one").encrypt("+919876543210")
    with pytest.raises(InvalidToken):
        PhoneVault("key two").decrypt(cipher)


def test_seal_bundles_cipher_hash_and_suffix():
    vault = PhoneVault("k")
    sealed = vault.seal("+919876543221")
    assert vault.decrypt(sealed.cipher) == "+919876543221"
    assert sealed.lookup_hash == vault.lookup_hash("+919876543221")
    assert sealed.last4 == "3221"
    assert vault.masked(sealed.cipher) == "98XXXXXX21"
    assert vault.masked(None) is None


def test_empty_data_key_is_refused():
    with pytest.raises(ValueError):
        PhoneVault("")


def test_vault_repr_reveals_no_key():
    assert "key" not in repr(PhoneVault("secret-key"))
