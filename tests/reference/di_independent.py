"""An independent eddsa-jcs-2022 implementation, written from the W3C specifications, sharing no code
with Hallmark: JCS, base58btc and did:key here, Ed25519 from `cryptography`.

Usage: di_independent.py verify FILE        -> {"valid": true, "signer": "did:key:..."} or an error
       di_independent.py sign CREATED        -> a credential it signs with a fresh key, on stdout

JCS note: json.dumps with sorted keys, no whitespace and no ASCII escaping equals RFC 8785 for
documents without floating-point numbers whose keys are all in the Basic Multilingual Plane, which
holds for credentials (numbers here are integers).
"""

import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = ALPHABET[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def b58decode(text: str) -> bytes:
    n = 0
    for ch in text:
        n = n * 58 + ALPHABET.index(ch)
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def jcs(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def did_key(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "did:key:z" + b58encode(b"\xed\x01" + raw)


def public_key(method: str) -> Ed25519PublicKey:
    did, _, fragment = method.partition("#")
    key = did.removeprefix("did:key:")
    if not did.startswith("did:key:z") or (fragment and fragment != key):
        raise ValueError(f"unsupported verification method {method}")
    raw = b58decode(key[1:])
    if raw[:2] != b"\xed\x01" or len(raw) != 34:
        raise ValueError("not an Ed25519 did:key")
    return Ed25519PublicKey.from_public_bytes(raw[2:])


def signing_input(document: dict, options: dict) -> bytes:
    return hashlib.sha256(jcs(options)).digest() + hashlib.sha256(jcs(document)).digest()


def verify(secured: dict) -> str:
    document = dict(secured)
    proof = dict(document.pop("proof"))
    if proof.get("type") != "DataIntegrityProof" or proof.get("cryptosuite") != "eddsa-jcs-2022":
        raise ValueError("not an eddsa-jcs-2022 Data Integrity proof")
    value = proof.pop("proofValue")
    if "@context" in proof:
        ctx, doc_ctx = proof["@context"], document.get("@context")
        ctx = ctx if isinstance(ctx, list) else [ctx]
        if not isinstance(doc_ctx, list) or doc_ctx[: len(ctx)] != ctx:
            raise ValueError("document @context does not start with the proof's")
    key = public_key(proof["verificationMethod"])
    key.verify(b58decode(value[1:]), signing_input(document, proof))
    return proof["verificationMethod"].partition("#")[0]


def sign(created: str) -> dict:
    private = Ed25519PrivateKey.generate()
    did = did_key(private.public_key())
    document = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": did,
        "validFrom": created,
        "credentialSubject": {"id": "urn:example:subject", "note": "signed by the independent verifier"},
    }
    options = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-jcs-2022",
        "created": created,
        "verificationMethod": f"{did}#{did.removeprefix('did:key:')}",
        "proofPurpose": "assertionMethod",
        "@context": document["@context"],
    }
    signature = private.sign(signing_input(document, options))
    return {**document, "proof": {**options, "proofValue": "z" + b58encode(signature)}}


if sys.argv[1] == "verify":
    credential = json.load(open(sys.argv[2], encoding="utf-8"))
    try:
        json.dump({"valid": True, "signer": verify(credential)}, sys.stdout)
    except (InvalidSignature, ValueError, KeyError) as error:
        json.dump({"valid": False, "error": repr(error)}, sys.stdout)
elif sys.argv[1] == "sign":
    json.dump(sign(sys.argv[2]), sys.stdout)
else:
    sys.exit("usage: di_independent.py verify FILE | sign CREATED")
