// Mints the benchmark's keys and tokens with node's built-in crypto.
//   node mint.mjs OUT_DIR ISSUER AUDIENCE [DISTINCT_COUNT]
// Writes OUT_DIR/jwks.json (an RSA-2048 key "bench-rs256" and a P-256 key "bench-es256") and
// token files, one token per line:
//   repeated-rs256.txt   1 valid RS256 token
//   distinct-rs256.txt   DISTINCT_COUNT (10000) valid RS256 tokens, each with its own sub and jti
//   distinct-es256.txt   the same for ES256
//   badsig-rs256.txt     1000 tokens naming the published RSA kid, signed by another RSA key
//   unknown-kid.txt      1000 RS256 tokens, each naming a different kid that is not in the JWKS
//   wrong-iss.txt, wrong-aud.txt, expired.txt   1 validly signed token each, for the pre-checks
import { generateKeyPairSync, sign, randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [outDir, iss, aud, countArg] = process.argv.slice(2);
if (!outDir || !iss || !aud) {
  console.error("usage: node mint.mjs OUT_DIR ISSUER AUDIENCE [DISTINCT_COUNT]");
  process.exit(2);
}
const distinct = Number(countArg || 10000);
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
write("distinct-rs256.txt", many(distinct, (i) => valid("RS256", i + 1)));
write("distinct-es256.txt", many(distinct, (i) => valid("ES256", i + 1)));
write("badsig-rs256.txt", many(bad, (i) => jwt("RS256", keys.RS256.kid, rogue.privateKey, claims(i + 1))));
write("unknown-kid.txt", many(bad, (i) => jwt("RS256", `unknown-${b64url(randomBytes(6))}`, rogue.privateKey, claims(i + 1))));
write("wrong-iss.txt", valid("RS256", 1, { iss: iss + "/other" }) + "\n");
write("wrong-aud.txt", valid("RS256", 1, { aud: aud + "/other" }) + "\n");
write("expired.txt", valid("RS256", 1, { iat: now - 7200, exp: now - 3600 }) + "\n");
console.log(`minted tokens in ${outDir}`);
