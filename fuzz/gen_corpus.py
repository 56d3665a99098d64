#!/usr/bin/env python3
"""Regenerates the seed corpora in fuzz/corpus/<target>/ (python3-cryptography
for real public keys). Signatures are random bytes: no seed verifies."""
import base64, json, os, random, shutil
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x25519

HERE = os.path.dirname(os.path.abspath(__file__))
rnd = random.Random(6750)


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def b64json(obj, padded=False):
    raw = json.dumps(obj, separators=(",", ":")).encode() if not isinstance(obj, (bytes, str)) else (
        obj.encode() if isinstance(obj, str) else obj)
    s = base64.urlsafe_b64encode(raw).decode()
    return s if padded else s.rstrip("=")


def sig(n):
    return b64(bytes(rnd.getrandbits(8) for _ in range(n)))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


for t in ("fuzz_token", "fuzz_jwt", "fuzz_jwks"):
    shutil.rmtree(os.path.join(HERE, "corpus", t), ignore_errors=True)

claims = {"iss": "https://issuer.example.com", "aud": "https://mcp.example.com/mcp",
          "sub": "alice", "exp": 1767229200, "iat": 1767225600, "nbf": 1767225600,
          "scope": "mcp:read mcp:write", "client_id": "c1", "jti": "j1"}
P = b64json(claims)


def tok(h, p=P, s=None):
    return ".".join([b64json(h) if not isinstance(h, str) else h, p, s if s is not None else sig(256)])


# ---- compact JWS tokens -------------------------------------------------------
J = {}
J["rs256_kid"] = tok({"alg": "RS256", "typ": "at+jwt", "kid": "rsa-1"})
J["rs256_nokid"] = tok({"alg": "RS256", "typ": "JWT"})
J["ps256_nokid"] = tok({"alg": "PS256"})
J["rs512_kid"] = tok({"alg": "RS512", "kid": "rsa-1"})
J["es256_kid"] = tok({"alg": "ES256", "typ": "at+jwt", "kid": "ec-1"}, s=sig(64))
J["es256_nokid"] = tok({"alg": "ES256", "typ": "application/at+jwt"}, s=sig(64))
J["es256_padded_sig"] = tok({"alg": "ES256", "kid": "ec-1"}, s=sig(66))
J["es256_der_sig"] = tok({"alg": "ES256", "kid": "ec-1"}, s=sig(71))
J["es384_nokid"] = tok({"alg": "ES384"}, s=sig(96))
J["es512_nokid"] = tok({"alg": "ES512"}, s=sig(132))
J["unknown_kid"] = tok({"alg": "RS256", "kid": "../../dev/null"})
J["kid_not_string"] = tok({"alg": "RS256", "kid": 7})
J["none_empty_sig"] = tok({"alg": "none"}, s="")
J["none_with_sig"] = tok({"alg": "none"})
J["none_upper"] = tok({"alg": "NONE"}, s=sig(4))
J["hs256"] = tok({"alg": "HS256", "kid": "rsa-1"}, s=sig(32))
J["alg_not_string"] = tok({"alg": ["RS256"]})
J["crit"] = tok({"alg": "RS256", "crit": ["exp"], "exp": 1})
J["b64_false"] = tok({"alg": "RS256", "b64": False})
J["cty_jwt"] = tok({"alg": "RS256", "cty": "JWT"})
J["typ_dpop"] = tok({"alg": "ES256", "typ": "dpop+jwt"}, s=sig(64))
J["jku_x5u"] = tok({"alg": "RS256", "jku": "http://127.0.0.1/jwks", "x5u": "http://x/"})
J["jwk_embedded"] = tok({"alg": "ES256", "jwk": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}}, s=sig(64))
J["dup_header_member"] = tok(b64json('{"alg":"none","alg":"RS256"}'))
J["dup_payload_member"] = tok({"alg": "RS256"}, p=b64json('{"sub":"a","sub":"b"}'))
J["header_array"] = tok(b64json("[1,2]"))
J["header_nul"] = tok(b64json('{"alg":"RS256","kid":"a\\u0000b"}'))
J["header_bad_utf8"] = tok(b64json(b'{"alg":"RS256","kid":"\xc0\xaf"}'))
J["payload_not_json"] = tok({"alg": "RS256"}, p=b64(b"not json"))
J["empty_payload"] = tok({"alg": "RS256"}, p="")
J["padded_header"] = tok(b64json({"alg": "RS256", "kid": "rsa-1"}, padded=True))
J["padded_sig"] = tok({"alg": "RS256"}, s=sig(256) + "==")
J["sig_eq_junk"] = tok({"alg": "RS256"}, s=sig(255) + "=JUNK")
J["cjose_abort_1mod4"] = "abcde=.e30.e30"
J["cjose_abort_sig"] = "eyJhbGciOiJSUzI1NiJ9.e30.abcde="
J["trailing_bits"] = "eyJhbGciOiJSUzI1NiJ9.e31." + sig(256)
J["len_1mod4"] = "eyJhbGciOiJSUzI1NiJ9.e30a." + sig(256)
J["plus_slash"] = "eyJhbGciOiJSUzI1NiJ9.e30." + sig(256).replace("-", "+").replace("_", "/") + "+/"
J["five_segments"] = ".".join([b64json({"alg": "RSA-OAEP", "enc": "A256GCM"}), sig(256), sig(12), sig(100), sig(16)])
J["four_segments"] = J["rs256_nokid"] + "." + sig(4)
J["two_segments"] = b64json({"alg": "RS256"}) + "." + P
J["only_dots"] = ".."
J["leading_space"] = " " + J["rs256_kid"]
J["trailing_newline"] = J["rs256_kid"] + "\n"
J["inner_space"] = J["rs256_kid"][:20] + " " + J["rs256_kid"][20:]
J["long_payload_under_limit"] = tok({"alg": "RS256"}, p=b64json({"sub": "x" * 11000}))
J["long_payload_over_limit"] = tok({"alg": "RS256"}, p=b64json({"sub": "x" * 13000}))
J["long_header"] = tok({"alg": "RS256", "kid": "k" * 3000})
J["deep_json"] = tok({"alg": "RS256"}, p=b64json("[" * 2000 + "]" * 2000))
# EdDSA (RFC 8037): 64-byte signatures, wrong lengths, alg confusion
J["eddsa_kid"] = tok({"alg": "EdDSA", "typ": "at+jwt", "kid": "ed-1"}, s=sig(64))
J["eddsa_nokid"] = tok({"alg": "EdDSA"}, s=sig(64))
J["ed25519_alg"] = tok({"alg": "Ed25519", "kid": "ed-1"}, s=sig(64))
J["eddsa_sig_63"] = tok({"alg": "EdDSA", "kid": "ed-1"}, s=sig(63))
J["eddsa_sig_65"] = tok({"alg": "EdDSA", "kid": "ed-1"}, s=sig(65))
J["eddsa_rsa_kid"] = tok({"alg": "EdDSA", "kid": "rsa-1"}, s=sig(64))
J["es256_okp_kid"] = tok({"alg": "ES256", "kid": "ed-1"}, s=sig(64))
J["ed448_alg"] = tok({"alg": "Ed448", "kid": "ed-1"}, s=sig(114))
for k, v in J.items():
    write("fuzz_jwt", k, v)

# ---- Authorization header values ---------------------------------------------
H = {
    "bearer_x": "Bearer x",
    "bearer_lower_spaces": "bearer  x  ",
    "bearer_only": "Bearer",
    "bearer_space_only": "Bearer ",
    "bearer_tab": "Bearer\tx",
    "bearer_upper": "BEARER abc",
    "bearerx": "BearerX abc",
    "leading_ows": " \tBearer abc",
    "basic": "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
    "dpop": "DPoP eyJhbGciOiJFUzI1NiJ9.e30.sig",
    "two_tokens": "Bearer abc def",
    "two_headers": "Bearer abc, Bearer def",
    "bearer_and_basic": "Bearer abc, Basic YWxhZGRpbjpvcGVuc2VzYW1l",
    "padding": "Bearer abc==",
    "padding_junk": "Bearer abc=d",
    "only_padding": "Bearer ==",
    "b64token_chars": "Bearer AZaz09-._~+/=",
    "junk_char": "Bearer ab\"c",
    "comma": "Bearer abc,",
    "nul_inside": "Bearer abc\x00def",
    "crlf": "Bearer abc\r\nX-Injected: 1",
    "utf8": "Bearer caf\xc3\xa9",
    "jwt": "Bearer " + J["rs256_kid"],
    "jwt_es": "Bearer " + J["es256_kid"],
    "empty": "",
    "long_token": "Bearer " + "A" * 8000,
}
for k, v in H.items():
    write("fuzz_token", k, v.encode("latin-1") if isinstance(v, str) else v)

# ---- JWKS documents ----------------------------------------------------------
def rsa_jwk(bits=2048, **extra):
    pub = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key().public_numbers()
    k = {"kty": "RSA", "n": b64(pub.n.to_bytes((pub.n.bit_length() + 7) // 8, "big")),
         "e": b64(pub.e.to_bytes(3, "big"))}
    k.update(extra)
    return k


def ec_jwk(curve, name, size, **extra):
    pub = ec.generate_private_key(curve()).public_key().public_numbers()
    k = {"kty": "EC", "crv": name, "x": b64(pub.x.to_bytes(size, "big")), "y": b64(pub.y.to_bytes(size, "big"))}
    k.update(extra)
    return k


RAW = serialization.Encoding.Raw


def okp_jwk(private, crv, **extra):
    x = private.public_key().public_bytes(RAW, serialization.PublicFormat.Raw)
    k = {"kty": "OKP", "crv": crv, "x": b64(x)}
    k.update(extra)
    return k


def doc(keys):
    return json.dumps({"keys": keys}, separators=(",", ":"))


R = rsa_jwk(kid="rsa-1", use="sig", alg="RS256")
E256 = ec_jwk(ec.SECP256R1, "P-256", 32, kid="ec-1", use="sig", alg="ES256")
E384 = ec_jwk(ec.SECP384R1, "P-384", 48, kid="ec-384")
E521 = ec_jwk(ec.SECP521R1, "P-521", 66, kid="ec-521", alg="ES512")
ED_PRIVATE = ed25519.Ed25519PrivateKey.generate()
ED = okp_jwk(ED_PRIVATE, "Ed25519", kid="ed-1", use="sig")
OCT = {"kty": "oct", "k": b64(b"0123456789abcdef0123456789abcdef"), "kid": "hmac", "alg": "HS256"}
K = {
    "rsa": doc([R]),
    "ec_p256": doc([E256]),
    "ec_p384": doc([E384]),
    "ec_p521": doc([E521]),
    "oct": doc([OCT]),
    "mixed": doc([R, E256, OCT, E384]),
    "rsa_1024": doc([rsa_jwk(1024, kid="small")]),
    "rsa_enc": doc([dict(R, use="enc")]),
    "key_ops_sign_only": doc([dict(E256, key_ops=["sign"])]),
    "key_ops_verify": doc([dict(E256, key_ops=["verify"])]),
    "alg_mismatch": doc([dict(E256, alg="ES384")]),
    "alg_rsa_on_ec": doc([dict(E256, alg="RS256")]),
    "alg_hs_on_rsa": doc([dict(R, alg="HS256")]),
    "ec_bad_point": doc([dict(E256, y=E256["x"])]),
    "ec_unknown_curve": doc([dict(E256, crv="secp256k1")]),
    "okp": doc([{"kty": "OKP", "crv": "Ed25519", "x": b64(bytes(32))}]),
    "okp_ed25519": doc([ED]),
    "okp_alg_eddsa": doc([dict(ED, alg="EdDSA")]),
    "okp_alg_es256": doc([dict(ED, alg="ES256")]),
    "okp_ed448": doc([okp_jwk(ed448.Ed448PrivateKey.generate(), "Ed448", kid="ed-448")]),
    "okp_x25519": doc([okp_jwk(x25519.X25519PrivateKey.generate(), "X25519", kid="x-1")]),
    "okp_short_x": doc([dict(ED, x=ED["x"][:-2])]),
    "okp_no_crv": doc([{k: v for k, v in ED.items() if k != "crv"}]),
    "okp_with_d": doc([dict(ED, d=b64(ED_PRIVATE.private_bytes(RAW, serialization.PrivateFormat.Raw,
                                                              serialization.NoEncryption())))]),
    "mixed_okp": doc([R, ED, E256, dict(ED, kid="ed-enc", use="enc")]),
    "dup_kid": doc([R, dict(E256, kid="rsa-1")]),
    "no_kid": doc([{k: v for k, v in R.items() if k != "kid"}]),
    "kid_number": doc([dict(R, kid=5)]),
    "dup_member": '{"keys":[' + json.dumps(E256)[:-1] + ',"crv":"P-384"}]}',
    "dup_keys_member": '{"keys":[],"keys":[' + json.dumps(R) + ']}',
    "empty_keys": '{"keys":[]}',
    "keys_object": '{"keys":{}}',
    "no_keys": '{"kty":"RSA"}',
    "array_doc": "[]",
    "malformed": '{"keys":[{"kty":"RSA","n":',
    "html": "<html><body>502 Bad Gateway</body></html>",
    "not_object_key": '{"keys":[1,"x",null,[]]}',
    "rsa_n_padded": doc([dict(R, n=R["n"] + "==")]),
    "rsa_e_junk": doc([dict(R, e="AQAB=junk")]),
    "nul_in_kid": '{"keys":[{"kty":"RSA","kid":"a\\u0000b","n":"' + R["n"] + '","e":"AQAB"}]}',
}
for k, v in K.items():
    write("fuzz_jwks", k, v)
