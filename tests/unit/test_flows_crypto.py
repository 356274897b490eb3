"""QLink's Flows crypto and the tests' client agree with pywa, an independent implementation."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from pywa import utils as pywa_utils

from core.messaging.flows.crypto import (
    CannotDecrypt,
    decrypt_request,
    encrypt_response,
    generate_private_key_pem,
    load_private_key,
    public_key_pem,
)
from tests.web.flows_client import open_reply, seal

PEM = generate_private_key_pem()
KEY = load_private_key(PEM)
BODY = {"version": "4.0", "action": "ping"}


def test_pywa_decrypts_what_the_test_client_encrypts_and_so_does_qlink():
    envelope, aes_key, iv = seal(KEY.public_key(), BODY)
    by_pywa, pywa_key, pywa_iv = pywa_utils.default_flow_request_decryptor(
        envelope["encrypted_flow_data"],
        envelope["encrypted_aes_key"],
        envelope["initial_vector"],
        PEM.decode(),
    )
    ours = decrypt_request(KEY, **envelope)
    assert by_pywa == ours.body == BODY
    assert (pywa_key, pywa_iv) == (aes_key, iv) == (ours.aes_key, ours.iv)


def test_replies_from_pywa_and_from_qlink_open_the_same_on_the_client():
    _, aes_key, iv = seal(KEY.public_key(), BODY)
    reply = {"version": "4.0", "data": {"status": "active"}}
    by_pywa = pywa_utils.default_flow_response_encryptor(reply, aes_key, iv)
    assert open_reply(by_pywa, aes_key, iv) == reply
    assert open_reply(encrypt_response(reply, aes_key, iv), aes_key, iv) == reply


@pytest.mark.parametrize("damage", ["tag", "key", "iv"])
def test_tampered_requests_cannot_be_decrypted(damage):
    envelope, _, _ = seal(KEY.public_key(), BODY)
    if damage == "tag":
        blob = bytearray(base64.b64decode(envelope["encrypted_flow_data"]))
        blob[-1] ^= 1
        envelope["encrypted_flow_data"] = base64.b64encode(bytes(blob)).decode()
    elif damage == "key":
        other = load_private_key(generate_private_key_pem()).public_key()
        envelope = seal(other, BODY)[0]
    else:
        envelope["initial_vector"] = base64.b64encode(b"\0" * 16).decode()
    with pytest.raises(CannotDecrypt):
        decrypt_request(KEY, **envelope)


def test_public_key_is_rsa_2048_pem_for_registration():
    pem = public_key_pem(KEY)
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    loaded = serialization.load_pem_public_key(pem.encode())
    assert loaded.public_numbers() == KEY.public_key().public_numbers()
    assert KEY.key_size == 2048
