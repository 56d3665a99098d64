#!/usr/bin/env node
// Key-set fixtures of the cache/outage tests (t/2x-cache-*.t), served by
// t/cgi-bin/idp from DIR/www. Run after mint.mjs init (uses its keys).
//
//   node mint_cache.mjs DIR
//
// Creates (once; idempotent):
//   www/i4-good.json      { i4a (rsa1) }
//   www/i4-rot.json       { i4a, i4b (rsa2) }                 rotation
//   www/i4-nokeys.json    {"keys":[]}
//   www/i4-invalid.json   truncated JSON
//   www/i4-weak.json      { weak (RSA-1024) }                 no usable key
//   www/i4-oversized.json { i4a } padded to ~12 KB            > 8192 bytes
//   www/i4-html.html      an HTML login page
//   www/i4-big.json       2,000 keys, ~400 KiB; the last (big-1999, P-256)
//                         signs with key "biglast" (keys/biglast.pem)
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const FORMAT = 2;
const dir = process.argv[2];
if (!dir) {
  console.error('usage: mint_cache.mjs DIR');
  process.exit(2);
}
const stamp = path.join(dir, '.complete-cache');
if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === String(FORMAT)) process.exit(0);

function writeAtomic(file, data, mode = 0o644) {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data, { mode });
  fs.renameSync(tmp, file);
}
const priv = (name) => crypto.createPrivateKey(fs.readFileSync(path.join(dir, 'keys', `${name}.pem`)));
const pub = (name, extra) => ({ ...extra, ...crypto.createPublicKey(priv(name)).export({ format: 'jwk' }) });

const www = path.join(dir, 'www');
fs.mkdirSync(www, { recursive: true });
const i4a = pub('rsa1', { kid: 'i4a', use: 'sig' });
const i4b = pub('rsa2', { kid: 'i4b', use: 'sig' });
writeAtomic(path.join(www, 'i4-good.json'), JSON.stringify({ keys: [i4a] }));
writeAtomic(path.join(www, 'i4-rot.json'), JSON.stringify({ keys: [i4a, i4b] }));
writeAtomic(path.join(www, 'i4-nokeys.json'), '{"keys":[]}');
writeAtomic(path.join(www, 'i4-invalid.json'), JSON.stringify({ keys: [i4a] }).slice(0, 120));
writeAtomic(path.join(www, 'i4-weak.json'), JSON.stringify({ keys: [pub('rsa1024', { kid: 'weak' })] }));
writeAtomic(path.join(www, 'i4-oversized.json'),
  JSON.stringify({ keys: [i4a], padding: 'x'.repeat(12000) }));
writeAtomic(path.join(www, 'i4-html.html'),
  '<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body><form>login</form></body></html>\n');

// The big set: 500 RSA entries (rsa1/rsa2 material under distinct kids) and
// 1,500 fresh P-256 keys; the last one's private key is kept for signing.
// (ECDH rather than generateKeyPairSync + KeyObject.export: node 20 hangs now
// and then when exporting thousands of KeyObjects.)
const keys = [];
const rsa = [pub('rsa1', {}), pub('rsa2', {})];
for (let i = 0; i < 2000; i++) {
  const kid = `big-${String(i).padStart(4, '0')}`;
  if (i < 500) {
    keys.push({ kid, use: 'sig', alg: 'RS256', ...rsa[i % 2] });
    continue;
  }
  const ecdh = crypto.createECDH('prime256v1');
  const point = ecdh.generateKeys();
  const jwk = { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'),
                y: point.subarray(33).toString('base64url') };
  keys.push({ kid, use: 'sig', alg: 'ES256', ...jwk });
  if (i === 1999) {
    const raw = ecdh.getPrivateKey();
    const d = Buffer.concat([Buffer.alloc(32 - raw.length), raw]).toString('base64url');
    const key = crypto.createPrivateKey({ key: { ...jwk, d }, format: 'jwk' });
    writeAtomic(path.join(dir, 'keys', 'biglast.pem'), key.export({ type: 'pkcs8', format: 'pem' }));
  }
}
writeAtomic(path.join(www, 'i4-big.json'), JSON.stringify({ keys }));
writeAtomic(stamp, String(FORMAT));
