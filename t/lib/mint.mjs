#!/usr/bin/env node
// Test key material and token minting for the Apache::Test suite.
// Node's built-in crypto only.
//
//   node mint.mjs init DIR
//       Creates (once; idempotent) the keys under DIR/keys and the JWKS files
//       under DIR/www (served by the idp vhost). Fast when already done.
//   node mint.mjs sign DIR < specs.json
//       specs.json: one spec or an array of specs; prints one token per line.
//
// A spec:
//   { "key": NAME, "header": {...}, "payload": {...},
//     "header_raw": "...", "payload_raw": "...",   // exact JSON text instead
//     "sign_alg": "ES384",                          // default: header.alg
//     "es_pad": true,                               // ECDSA: 00||R||00||S
//                                                   (a number N: N zero bytes each)
//     "es_der": true,                               // ECDSA: DER, not R||S
//     "header_b64": "...", "payload_b64": "...",    // exact segment text signed
//     "jwk_of": NAME,          // header.jwk: NAME's public JWK (DPoP proofs)
//     "jwk_private_of": NAME,  // header.jwk: NAME's private JWK (a hostile proof)
//     "cnf_jkt_of": NAME }     // payload.cnf.jkt: NAME's RFC 7638 thumbprint
// Keys: rsa1, rsa2, rsa1024, p256, p384, p521, evil (an attacker's RSA key,
// in no JWKS of the protected locations), ed25519, ed25519b (an Ed25519 key
// in no JWKS), ed448, x25519 (published only, never signs) (private keys),
// oct (the HMAC key also published in the JWKS), rsa1pem (rsa1's public PEM
// as HMAC secret), ed25519x (the raw Ed25519 public key as HMAC secret),
// none (empty signature). EdDSA, Ed25519 and Ed448 sign the input itself.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const KEYS = {
  rsa1: { type: 'rsa', opts: { modulusLength: 2048 } },
  rsa2: { type: 'rsa', opts: { modulusLength: 2048 } },
  rsa1024: { type: 'rsa', opts: { modulusLength: 1024 } },
  p256: { type: 'ec', opts: { namedCurve: 'P-256' } },
  p384: { type: 'ec', opts: { namedCurve: 'P-384' } },
  p521: { type: 'ec', opts: { namedCurve: 'P-521' } },
  evil: { type: 'rsa', opts: { modulusLength: 2048 } },
  ed25519: { type: 'ed25519', opts: {} },
  ed25519b: { type: 'ed25519', opts: {} },
  ed448: { type: 'ed448', opts: {} },
  x25519: { type: 'x25519', opts: {} },
  // DPoP clients' proof keys (t/32-dpop.t)
  client1: { type: 'ec', opts: { namedCurve: 'P-256' } },
  client2: { type: 'ec', opts: { namedCurve: 'P-256' } },
};
const FORMAT = 8; // bump when the fixture layout changes

const b64u = (buf) => Buffer.from(buf).toString('base64url');

function writeAtomic(file, data, mode = 0o644) {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data, { mode });
  fs.renameSync(tmp, file);
}

function loadPrivate(dir, name) {
  return crypto.createPrivateKey(fs.readFileSync(path.join(dir, 'keys', `${name}.pem`)));
}

function pubJwk(dir, name, extra) {
  const jwk = crypto.createPublicKey(loadPrivate(dir, name)).export({ format: 'jwk' });
  return { ...extra, ...jwk };
}

function init(dir) {
  const stamp = path.join(dir, '.complete');
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === String(FORMAT)) return;
  for (const sub of ['keys', 'www', 'state']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  fs.chmodSync(path.join(dir, 'state'), 0o1777); // the CGIs (User nobody) write here

  for (const [name, { type, opts }] of Object.entries(KEYS)) {
    const file = path.join(dir, 'keys', `${name}.pem`);
    if (fs.existsSync(file)) continue;
    const { privateKey } = crypto.generateKeyPairSync(type, opts);
    writeAtomic(file, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  }
  const octFile = path.join(dir, 'keys', 'oct.bin');
  if (!fs.existsSync(octFile)) writeAtomic(octFile, crypto.randomBytes(32));
  writeAtomic(path.join(dir, 'keys', 'rsa1.pub.pem'),
    crypto.createPublicKey(loadPrivate(dir, 'rsa1')).export({ type: 'spki', format: 'pem' }));

  const oct = { kty: 'oct', kid: 'oct1', k: b64u(fs.readFileSync(octFile)) };
  const main = {
    keys: [
      pubJwk(dir, 'rsa1', { kid: 'rsa1', use: 'sig' }),
      pubJwk(dir, 'rsa1', { kid: 'rsa1-rs256', alg: 'RS256' }),
      pubJwk(dir, 'rsa1', { kid: 'rsa1-enc', use: 'enc' }),
      pubJwk(dir, 'rsa1024', { kid: 'rsa-small' }),
      pubJwk(dir, 'p256', { kid: 'ec256' }),
      pubJwk(dir, 'p384', { kid: 'ec384' }),
      pubJwk(dir, 'p521', { kid: 'ec521' }),
      pubJwk(dir, 'ed25519', { kid: 'ed1' }),
      oct,
    ],
  };
  const www = path.join(dir, 'www');
  writeAtomic(path.join(www, 'jwks.json'), JSON.stringify(main, null, 1));
  // Rotation: set A has rotA (rsa1); set B adds rotB (rsa2); set C adds rotC (p256).
  writeAtomic(path.join(www, 'jwks-rot-a.json'),
    JSON.stringify({ keys: [pubJwk(dir, 'rsa1', { kid: 'rotA' })] }));
  writeAtomic(path.join(www, 'jwks-rot-b.json'),
    JSON.stringify({ keys: [pubJwk(dir, 'rsa1', { kid: 'rotA' }), pubJwk(dir, 'rsa2', { kid: 'rotB' })] }));
  writeAtomic(path.join(www, 'jwks-rot-c.json'),
    JSON.stringify({ keys: [pubJwk(dir, 'rsa1', { kid: 'rotA' }), pubJwk(dir, 'rsa2', { kid: 'rotB' }),
      pubJwk(dir, 'p256', { kid: 'rotC' })] }));
  // No usable signing key: only an oct key and a 1024-bit RSA key.
  writeAtomic(path.join(www, 'jwks-unusable.json'),
    JSON.stringify({ keys: [oct, pubJwk(dir, 'rsa1024', { kid: 'rsa-small' })] }));
  // Hostile OKP keys (RFC 8037 §2) for t/13-hardening.t: most carry ed25519's
  // own x, so that only the check under test can refuse them.
  const ed = pubJwk(dir, 'ed25519', {});
  const edPrivate = loadPrivate(dir, 'ed25519').export({ format: 'jwk' });
  const edShortX = b64u(Buffer.from(ed.x, 'base64url').subarray(0, 31));
  const { crv: _crv, ...edNoCrv } = ed;
  // Issue 3 tests (t/conf/issue3.conf.in): JWK use/key_ops/alg variants.
  writeAtomic(path.join(www, 'jwks-i3.json'), JSON.stringify({
    keys: [
      pubJwk(dir, 'rsa1', { kid: 'rsa1', use: 'sig' }),
      pubJwk(dir, 'p256', { kid: 'ec256' }),
      pubJwk(dir, 'p384', { kid: 'ec384' }),
      pubJwk(dir, 'p521', { kid: 'ec521' }),
      pubJwk(dir, 'rsa2', { kid: 'rsa2-ops-verify', key_ops: ['verify'] }),
      pubJwk(dir, 'rsa2', { kid: 'rsa2-ops-sign', key_ops: ['sign'] }),
      pubJwk(dir, 'rsa2', { kid: 'rsa2-ops-enc', key_ops: ['encrypt', 'wrapKey'] }),
      pubJwk(dir, 'rsa2', { kid: 'rsa2-ops-empty', key_ops: [] }),
      pubJwk(dir, 'rsa2', { kid: 'rsa2-ops-string', key_ops: 'verify' }),
      pubJwk(dir, 'rsa2', { kid: 'rsa2-use-enc', use: 'enc' }),
      pubJwk(dir, 'rsa2', { kid: 'rsa2-use-sig-ops-enc', use: 'sig', key_ops: ['encrypt'] }),
      pubJwk(dir, 'rsa1024', { kid: 'rsa-small' }),
      pubJwk(dir, 'p256', { kid: 'ec256-alg-es384', alg: 'ES384' }),
      pubJwk(dir, 'p256', { kid: 'ec256-alg-rs256', alg: 'RS256' }),
      { kid: 'ed1', ...ed },
      { kid: 'ed1-alg-eddsa', alg: 'EdDSA', ...ed },
      { kid: 'ed1-alg-es256', alg: 'ES256', ...ed },
      { kid: 'ed1-use-enc', use: 'enc', ...ed },
      { kid: 'ed1-as-x25519', ...ed, crv: 'X25519' },
      { kid: 'ed1-as-ed448', ...ed, crv: 'Ed448' },
      { kid: 'ed1-no-crv', ...edNoCrv },
      { kid: 'ed1-short-x', ...ed, x: edShortX },
      { kid: 'ed1-with-d', ...edPrivate },
      { kid: 'ed1-as-ec', ...ed, kty: 'EC' },
      pubJwk(dir, 'ed448', { kid: 'ed448' }),
      pubJwk(dir, 'x25519', { kid: 'x25519' }),
    ],
  }, null, 1));
  // Kid-less tokens: a counted JWKS (t/cgi-bin/jwks/i3kl).
  writeAtomic(path.join(www, 'jwks-i3-kidless.json'), JSON.stringify({
    keys: [pubJwk(dir, 'rsa1', { kid: 'kl-rsa' }), pubJwk(dir, 'p256', { kid: 'kl-ec' }),
      pubJwk(dir, 'rsa2', { kid: 'kl-rsa2-enc', use: 'enc' }), pubJwk(dir, 'ed25519', { kid: 'kl-ed' })],
  }));
  // The attacker's key set (served counted by t/cgi-bin/jwks/i3evil).
  writeAtomic(path.join(www, 'jwks-i3-attacker.json'), JSON.stringify({
    keys: [pubJwk(dir, 'evil', { kid: 'evil' }), pubJwk(dir, 'evil', { kid: 'rsa1' })],
  }));
  writeAtomic(path.join(www, 'evil.jwk.json'), JSON.stringify(pubJwk(dir, 'evil', {})));
  writeAtomic(stamp, String(FORMAT));
}

const HASH = { 256: 'sha256', 384: 'sha384', 512: 'sha512' };

// RFC 7638 §3: SHA-256 over the required members in lexicographic order.
const REQUIRED = { RSA: ['e', 'kty', 'n'], EC: ['crv', 'kty', 'x', 'y'], OKP: ['crv', 'kty', 'x'] };
function thumbprint(jwk) {
  const canonical = JSON.stringify(Object.fromEntries(REQUIRED[jwk.kty].map((m) => [m, jwk[m]])));
  return b64u(crypto.createHash('sha256').update(canonical).digest());
}

function sign(dir, spec) {
  let headerObj = spec.header ?? {};
  let payloadObj = spec.payload ?? {};
  if (spec.jwk_of) headerObj = { ...headerObj, jwk: pubJwk(dir, spec.jwk_of, {}) };
  if (spec.jwk_private_of) headerObj = { ...headerObj, jwk: loadPrivate(dir, spec.jwk_private_of).export({ format: 'jwk' }) };
  if (spec.cnf_jkt_of) payloadObj = { ...payloadObj, cnf: { jkt: thumbprint(pubJwk(dir, spec.cnf_jkt_of, {})) } };
  const header = spec.header_raw ?? JSON.stringify(headerObj);
  const payload = spec.payload_raw ?? JSON.stringify(payloadObj);
  const input = `${spec.header_b64 ?? b64u(header)}.${spec.payload_b64 ?? b64u(payload)}`;
  const alg = spec.sign_alg ?? (spec.header && spec.header.alg) ?? '';
  const key = spec.key;
  let sig;
  const m = /^([A-Z]{2})(256|384|512)$/.exec(alg);
  if (key !== 'none' && ['EdDSA', 'Ed25519', 'Ed448'].includes(alg)) {
    sig = crypto.sign(null, Buffer.from(input), loadPrivate(dir, key)); // RFC 8037 §3.1: no pre-hash
  } else if (key === 'none' || !m) {
    sig = Buffer.alloc(0);
  } else if (m[1] === 'HS') {
    const secret = key === 'oct' ? fs.readFileSync(path.join(dir, 'keys', 'oct.bin'))
      : key === 'rsa1pem' ? fs.readFileSync(path.join(dir, 'keys', 'rsa1.pub.pem'))
        : key === 'ed25519x' ? Buffer.from(pubJwk(dir, 'ed25519', {}).x, 'base64url')
          : (() => { throw new Error(`HS with key ${key}`); })();
    sig = crypto.createHmac(HASH[m[2]], secret).update(input).digest();
  } else {
    const priv = loadPrivate(dir, key);
    const opts = { key: priv };
    if (m[1] === 'PS') {
      opts.padding = crypto.constants.RSA_PKCS1_PSS_PADDING;
      opts.saltLength = crypto.constants.RSA_PSS_SALTLEN_DIGEST;
    } else if (m[1] === 'ES') {
      opts.dsaEncoding = spec.es_der ? 'der' : 'ieee-p1363';
    }
    sig = crypto.sign(HASH[m[2]], Buffer.from(input), opts);
    if (m[1] === 'ES' && spec.es_pad && !spec.es_der) {
      const half = sig.length / 2;
      const pad = spec.es_pad === true ? 1 : Number(spec.es_pad);
      sig = Buffer.concat([Buffer.alloc(pad), sig.subarray(0, half), Buffer.alloc(pad), sig.subarray(half)]);
    }
  }
  return `${input}.${b64u(sig)}`;
}

const [cmd, dir] = process.argv.slice(2);
if (!dir) {
  console.error('usage: mint.mjs init|sign DIR');
  process.exit(2);
}
if (cmd === 'init') {
  init(dir);
} else if (cmd === 'sign') {
  init(dir);
  const input = JSON.parse(fs.readFileSync(0, 'utf8'));
  const specs = Array.isArray(input) ? input : [input];
  process.stdout.write(specs.map((s) => sign(dir, s)).join('\n') + '\n');
} else {
  console.error(`unknown command ${cmd}`);
  process.exit(2);
}
