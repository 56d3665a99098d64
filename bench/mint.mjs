// Mints the benchmark's keys and tokens with node's built-in crypto.
//   node mint.mjs OUT_DIR ISSUER AUDIENCE [DISTINCT_COUNT [ROUNDS [EXCHANGE_SETS [TOKEN_COUNT]]]]
// Writes OUT_DIR/jwks.json (an RSA-2048 key "bench-rs256" and a P-256 key "bench-es256") and
// token files, one token per line:
//   repeated-rs256.txt   1 valid RS256 token
//   distinct-rs256.txt   TOKEN_COUNT (120000) valid RS256 tokens, each with its own sub and jti
//   distinct-es256.txt   the same for ES256
//   distinct-badsig.txt  the tokens of distinct-rs256.txt, each with one character of its
//                        signature changed: distinct tokens whose signature does not verify
//   badsig-rs256.txt     1000 tokens naming the published RSA kid, signed by another RSA key
//   unknown-kid.txt      1000 RS256 tokens, each naming a different kid that is not in the JWKS
//   wrong-iss.txt, wrong-aud.txt, expired.txt   1 validly signed token each, for the pre-checks
//   distinct-dpop.txt    DISTINCT_COUNT valid RS256 tokens, token i bound (cnf.jkt) to P-256 key i
//   dpop-keys.jsonl      those keys, one a line: the public JWK members and "pkcs8", the private
//                        key (base64url DER); proofs.mjs signs the proofs with them
//   dpop-other-key.jsonl one more P-256 key no token is bound to (pre-checks)
//   introspect-cached.txt           1 opaque token that the bench IdP (idp.lua) calls active
//   introspect-distinct-rN.txt      DISTINCT_COUNT such tokens for round N (1..ROUNDS), fresh
//                                   every round, so that every run starts with none cached
//   introspect-wrong-aud.txt, introspect-inactive.txt   1 each, for the pre-checks
//   exchange-cached.txt  1 valid RS256 token for the token exchange scenarios (its own sub)
//   exchange-check.txt   1 more, used only by the pre-checks
//   NAME-rN.txt          for each NAME of EXCHANGE_SETS (comma-separated, e.g.
//                        "exchange-distinct,exchange-distinct-proxy"; default none):
//                        DISTINCT_COUNT valid RS256 tokens for round N, fresh every round and set,
//                        so that each is new to the gateway's store of exchanged tokens
// Opaque tokens are "bench-opaque-" (active), "bench-wrongaud-" (active, another aud) or anything
// else (inactive), then hex: no dots, so that they are never taken for JWTs.
import { createHash, generateKeyPairSync, sign, randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [outDir, iss, aud, countArg, roundsArg, setsArg, tokensArg] = process.argv.slice(2);
if (!outDir || !iss || !aud) {
  console.error("usage: node mint.mjs OUT_DIR ISSUER AUDIENCE [DISTINCT_COUNT [ROUNDS [EXCHANGE_SETS [TOKEN_COUNT]]]]");
  process.exit(2);
}
const distinct = Number(countArg || 10000);
const rounds = Number(roundsArg || 3);
const tokenCount = Number(tokensArg || 120000);
const bad = 1000;
mkdirSync(outDir, { recursive: true });

const b64url = (buf) => Buffer.from(buf).toString("base64url");
const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const rogue = generateKeyPairSync("rsa", { modulusLength: 2048 }); // never published

const keys = {
  RS256: { kid: "bench-rs256", pair: rsa },
  ES256: { kid: "bench-es256", pair: ec },
};
const jwk = (k, alg) => ({ ...k.pair.publicKey.export({ format: "jwk" }), kid: k.kid, alg, use: "sig" });
writeFileSync(join(outDir, "jwks.json"), JSON.stringify({ keys: [jwk(keys.RS256, "RS256"), jwk(keys.ES256, "ES256")] }, null, 2) + "\n");

const now = Math.floor(Date.now() / 1000);
const claims = (n, over = {}) => ({
  iss, aud, sub: `user-${n}`, jti: b64url(randomBytes(12)), client_id: "bench",
  scope: "openid mcp:tools", iat: now - 60, exp: now + 10 * 365 * 86400, ...over,
});

function jwt(alg, kid, privateKey, payload) {
  const input = `${b64url(JSON.stringify({ alg, typ: "JWT", kid }))}.${b64url(JSON.stringify(payload))}`;
  const sig = alg === "ES256"
    ? sign("sha256", Buffer.from(input), { key: privateKey, dsaEncoding: "ieee-p1363" })
    : sign("sha256", Buffer.from(input), privateKey);
  return `${input}.${b64url(sig)}`;
}
const valid = (alg, n, over) => jwt(alg, keys[alg].kid, keys[alg].pair.privateKey, claims(n, over));
const many = (n, f) => Array.from({ length: n }, (_, i) => f(i)).join("\n") + "\n";
const write = (name, text) => writeFileSync(join(outDir, name), text);

write("repeated-rs256.txt", valid("RS256", 0) + "\n");
const distinctRS256 = Array.from({ length: tokenCount }, (_, i) => valid("RS256", i + 1));
write("distinct-rs256.txt", distinctRS256.join("\n") + "\n");
write("distinct-es256.txt", many(tokenCount, (i) => valid("ES256", i + 1)));
// A valid token with its signature's 11th character changed: still base64url of the same length,
// other signature bytes, so the check fails only after the RSA operation (as for a forged token).
const breakSignature = (t) => {
  const at = t.lastIndexOf(".") + 11;
  return t.slice(0, at) + (t[at] === "A" ? "B" : "A") + t.slice(at + 1);
};
write("distinct-badsig.txt", distinctRS256.map(breakSignature).join("\n") + "\n");
write("badsig-rs256.txt", many(bad, (i) => jwt("RS256", keys.RS256.kid, rogue.privateKey, claims(i + 1))));
write("unknown-kid.txt", many(bad, (i) => jwt("RS256", `unknown-${b64url(randomBytes(6))}`, rogue.privateKey, claims(i + 1))));
write("wrong-iss.txt", valid("RS256", 1, { iss: iss + "/other" }) + "\n");
write("wrong-aud.txt", valid("RS256", 1, { aud: aud + "/other" }) + "\n");
write("expired.txt", valid("RS256", 1, { iat: now - 7200, exp: now - 3600 }) + "\n");

// DPoP: token i is bound to key i (RFC 9449 §6.1: cnf.jkt is the key's RFC 7638 thumbprint).
const thumbprint = ({ crv, kty, x, y }) =>
  createHash("sha256").update(JSON.stringify({ crv, kty, x, y })).digest("base64url");
// Keys as DER, their public JWK read off the SPKI (P-256: the last 64 bytes are x and y): node 20
// can deadlock exporting a key as a JWK while its GC finalises key generation jobs.
const proofKey = () => {
  const { publicKey, privateKey } = generateKeyPairSync("ec", {
    namedCurve: "P-256",
    publicKeyEncoding: { type: "spki", format: "der" },
    privateKeyEncoding: { type: "pkcs8", format: "der" },
  });
  const xy = publicKey.subarray(publicKey.length - 64);
  return { kty: "EC", crv: "P-256", x: b64url(xy.subarray(0, 32)), y: b64url(xy.subarray(32)), pkcs8: b64url(privateKey) };
};
const dpopKeys = Array.from({ length: distinct }, proofKey);
write("dpop-keys.jsonl", dpopKeys.map((k) => JSON.stringify(k)).join("\n") + "\n");
write("dpop-other-key.jsonl", JSON.stringify(proofKey()) + "\n");
write("distinct-dpop.txt", many(distinct, (i) => valid("RS256", i + 1, { cnf: { jkt: thumbprint(dpopKeys[i]) } })));

// Opaque tokens for the introspection scenarios.
const opaque = (prefix) => `${prefix}${randomBytes(16).toString("hex")}`;
write("introspect-cached.txt", opaque("bench-opaque-c-") + "\n");
for (let r = 1; r <= rounds; r++) write(`introspect-distinct-r${r}.txt`, many(distinct, () => opaque(`bench-opaque-r${r}-`)));
write("introspect-wrong-aud.txt", opaque("bench-wrongaud-") + "\n");
write("introspect-inactive.txt", opaque("bench-revoked-") + "\n");
// Token exchange: JWTs like the others (the gateway validates them before it trades them); subs
// apart from the other files' ("xc-", "xk-", "x<set>-<round>-"), so no two files share a token.
write("exchange-cached.txt", valid("RS256", "xc-0") + "\n");
write("exchange-check.txt", valid("RS256", "xk-0") + "\n");
const sets = (setsArg || "").split(",").filter(Boolean);
sets.forEach((name, k) => {
  for (let r = 1; r <= rounds; r++) write(`${name}-r${r}.txt`, many(distinct, (i) => valid("RS256", `x${k}-${r}-${i}`)));
});
console.log(`minted tokens in ${outDir}`);
