"""Key material: generation, parsing and hashing of ``sk-llmgw-<id>-<secret>``.

The id is public (it names the key in logs, the ledger and the admin API); only the secret
authenticates. The secret is 32 random bytes, so a plain SHA-256 of it is enough: slow password
hashes (bcrypt, scrypt, argon2) exist to stretch low-entropy human passwords, and 256 random bits
cannot be brute-forced whatever the hash costs. A fast hash keeps authentication in microseconds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

PREFIX = "sk-llmgw-"
ID_LENGTH = 12
_ID_ALPHABET = frozenset("abcdefghijklmnopqrstuvwxyz234567")


def new_key_id() -> str:
    """12 lowercase base32 characters (60 random bits): short, and never contains '-'."""
    return base64.b32encode(os.urandom(8)).decode("ascii")[:ID_LENGTH].lower()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def format_key(key_id: str, secret: str) -> str:
    return f"{PREFIX}{key_id}-{secret}"


def parse_key(token: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed virtual key; None for anything else."""
    if not token.startswith(PREFIX):
        return None
    key_id, sep, secret = token[len(PREFIX) :].partition("-")
    if not sep or len(key_id) != ID_LENGTH or not secret or not _ID_ALPHABET.issuperset(key_id):
        return None
    return key_id, secret


def is_key_id(text: str) -> bool:
    return len(text) == ID_LENGTH and _ID_ALPHABET.issuperset(text)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    # Constant-time, so response timing does not reveal how much of a hash matched.
    return hmac.compare_digest(hash_secret(secret).encode(), stored_hash.encode())
