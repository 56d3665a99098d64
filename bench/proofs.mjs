// Mints DPoP proofs (RFC 9449 §4.2) for the distinct-dpop scenario: one fresh proof per request.
//   node proofs.mjs TOKENS KEYS URL COUNT OUT_PREFIX FILES
//   node proofs.mjs --one TOKENS KEYS URL INDEX [ATH_INDEX [KEY_FILE]]    (pre-checks)
// TOKENS: one token a line (mint.mjs's distinct-dpop.txt); KEYS: one key a line (public JWK
// members and "pkcs8"), key i being the one token i is bound to (dpop-keys.jsonl). Writes FILES files OUT_PREFIX.0 ... (one
// per wrk thread, together COUNT proofs), one "INDEX PROOF" a line: the token (0-based line of
// TOKENS) and a proof for it (ES256, typ dpop+jwt, public jwk, unique jti, htm GET, htu URL,
// iat now, ath = SHA-256 of that token). Line m of file k is for token (m * FILES + k) % N, so
// every thread walks all tokens. One worker thread per file: signing is the slow part.
// --one prints a single proof for token INDEX, made for token ATH_INDEX's ath if given, signed by
// the key in KEY_FILE (one such line) instead of the token's own if given.
import { createHash, createPrivateKey, randomBytes, sign } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { Worker, isMainThread, workerData } from "node:worker_threads";

const b64url = (buf) => Buffer.from(buf).toString("base64url");

// A proof maker over the tokens and their keys: proof(i) for token i.
function maker(tokensFile, keysFile, url) {
  const tokens = readFileSync(tokensFile, "utf8").split("\n").filter(Boolean);
  const jwks = readFileSync(keysFile, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
  if (jwks.length < tokens.length) throw new Error("proofs.mjs: fewer keys than tokens");
  const prepared = new Map(); // key -> { key, head }, made when first needed
  const athOf = new Map();
  const prep = (jwk) => {
    let p = prepared.get(jwk);
    if (!p) {
      const { kty, crv, x, y } = jwk;
      p = {
        key: createPrivateKey({ key: Buffer.from(jwk.pkcs8, "base64url"), format: "der", type: "pkcs8" }),
        head: b64url(JSON.stringify({ typ: "dpop+jwt", alg: "ES256", jwk: { kty, crv, x, y } })),
      };
      prepared.set(jwk, p);
    }
    return p;
  };
  const ath = (i) => {
    if (!athOf.has(i)) athOf.set(i, createHash("sha256").update(tokens[i]).digest("base64url"));
    return athOf.get(i);
  };
  const iat = Math.floor(Date.now() / 1000);
  return {
    count: tokens.length,
    proof(i, { athIndex = i, jwk = jwks[i] } = {}) {
      const p = prep(jwk);
      const input = `${p.head}.${b64url(JSON.stringify({ jti: b64url(randomBytes(16)), htm: "GET", htu: url, iat, ath: ath(athIndex) }))}`;
      return `${input}.${b64url(sign("sha256", Buffer.from(input), { key: p.key, dsaEncoding: "ieee-p1363" }))}`;
    },
  };
}

if (isMainThread && process.argv[2] === "--one") {
  const [tokensFile, keysFile, url, index, athIndex, keyFile] = process.argv.slice(3);
  const m = maker(tokensFile, keysFile, url);
  const jwk = keyFile ? JSON.parse(readFileSync(keyFile, "utf8").split("\n")[0]) : undefined;
  console.log(m.proof(Number(index), { athIndex: athIndex === undefined ? Number(index) : Number(athIndex), jwk }));
} else if (isMainThread) {
  const [tokensFile, keysFile, url, countArg, prefix, filesArg] = process.argv.slice(2);
  const count = Number(countArg), files = Number(filesArg || 1);
  if (!tokensFile || !keysFile || !url || !(count > 0) || !prefix || !(files > 0)) {
    console.error("usage: node proofs.mjs TOKENS KEYS URL COUNT OUT_PREFIX FILES");
    process.exit(2);
  }
  const per = Math.ceil(count / files);
  const running = Array.from({ length: files }, (_, k) => new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), {
      workerData: { tokensFile, keysFile, url, count: per, out: `${prefix}.${k}`, k, files },
    });
    w.on("error", reject);
    w.on("exit", (code) => (code ? reject(new Error(`proofs.mjs worker ${k} exited ${code}`)) : resolve()));
  }));
  await Promise.all(running);
} else {
  const { tokensFile, keysFile, url, count, out, k, files } = workerData;
  const m = maker(tokensFile, keysFile, url);
  const lines = new Array(count);
  for (let j = 0; j < count; j++) {
    const i = (j * files + k) % m.count;
    lines[j] = `${i} ${m.proof(i)}`;
  }
  writeFileSync(out, lines.join("\n") + "\n");
}
