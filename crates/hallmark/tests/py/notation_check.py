"""Check a notation envelope with Python's cryptography and cbor2, not with hallmark.

Usage: notation_check.py ENVELOPE_FILE MEDIA_TYPE EXPECTED_DIGEST

Verifies the signature over the exact signed bytes (JWS: BASE64URL(protected) '.' payload as
written; COSE: the Sig_structure over the protected bytes as written) with the signing
certificate's key, the algorithm the key dictates (the one the envelope names), each
certificate of the chain issued by the next, and the payload's targetArtifact digest. Prints
"ok ALG" and exits 0, or prints what failed and exits 1.
"""

import base64
import json
import sys

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

HASHES = {256: hashes.SHA256, 384: hashes.SHA384, 521: hashes.SHA512}
JWS_ALGS = {"ES256": 256, "ES384": 384, "ES512": 521, "PS256": 256, "PS384": 384, "PS512": 521}
COSE_ALGS = {-7: "ES256", -35: "ES384", -36: "ES512", -37: "PS256", -38: "PS384", -39: "PS512"}


def b64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def verify(cert, alg, message, signature):
    key = cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        size = key.curve.key_size
        if alg != {256: "ES256", 384: "ES384", 521: "ES512"}[size]:
            raise ValueError(f"alg {alg} for a P-{size} key")
        n = (size + 7) // 8
        if len(signature) != 2 * n:
            raise ValueError(f"expected an r||s signature of {2 * n} bytes, found {len(signature)}")
        der = encode_dss_signature(
            int.from_bytes(signature[:n], "big"), int.from_bytes(signature[n:], "big")
        )
        key.verify(der, message, ec.ECDSA(HASHES[size]()))
    elif isinstance(key, rsa.RSAPublicKey):
        bits = {2048: 256, 3072: 384, 4096: 521}[key.key_size]
        h = HASHES[bits]()
        if alg != "PS" + str(h.digest_size * 8):
            raise ValueError(f"alg {alg} for an RSA-{key.key_size} key")
        key.verify(signature, message, padding.PSS(padding.MGF1(h), h.digest_size), h)
    else:
        raise ValueError(f"unexpected key type {type(key)}")


def main():
    path, media_type, digest = sys.argv[1:4]
    data = open(path, "rb").read()
    if media_type == "application/jose+json":
        env = json.loads(data)
        if set(env) != {"payload", "protected", "header", "signature"}:
            raise ValueError(f"top-level members {sorted(env)}")
        protected = json.loads(b64url(env["protected"]))
        alg = protected["alg"]
        message = (env["protected"] + "." + env["payload"]).encode()
        signature = b64url(env["signature"])
        payload = b64url(env["payload"])
        chain = [base64.b64decode(c) for c in env["header"]["x5c"]]
        if "io.cncf.notary.signingScheme" not in protected.get("crit", []):
            raise ValueError(f"crit {protected.get('crit')}")
    elif media_type == "application/cose":
        tag = cbor2.loads(data)
        if not isinstance(tag, cbor2.CBORTag) or tag.tag != 18:
            raise ValueError("not a COSE_Sign1_Tagged")
        protected_bytes, unprotected, payload, signature = tag.value
        protected = cbor2.loads(protected_bytes)
        alg = COSE_ALGS[protected[1]]
        if protected[3] != "application/vnd.cncf.notary.payload.v1+json":
            raise ValueError(f"content type {protected[3]!r}")
        message = cbor2.dumps(["Signature1", protected_bytes, b"", payload])
        chain = unprotected[33]
        chain = [chain] if isinstance(chain, bytes) else chain
    else:
        raise ValueError(f"media type {media_type}")
    certs = [x509.load_der_x509_certificate(c) for c in chain]
    verify(certs[0], alg, message, signature)
    for child, parent in zip(certs, certs[1:]):
        child.verify_directly_issued_by(parent)
    certs[-1].verify_directly_issued_by(certs[-1])
    target = json.loads(payload)["targetArtifact"]
    if target["digest"] != digest:
        raise ValueError(f"expected the payload to name {digest}, found {target['digest']}")
    print("ok", alg)


if __name__ == "__main__":
    try:
        main()
    except (InvalidSignature, ValueError, KeyError, IndexError) as e:
        print("failed:", type(e).__name__, e)
        sys.exit(1)
