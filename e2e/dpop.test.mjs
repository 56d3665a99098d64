// DPoP (RFC 9449) with the MCP SDK 2.x client (@modelcontextprotocol/client), the e2e IdP and the
// SDK 2.x server behind the gateway.
//
// The client binds its tokens when its OAuthClientProvider has a dpop() method (one DpopSession,
// ES256): its token requests carry a proof, the IdP answers token_type DPoP with cnf.jkt in the
// JWT, and every request to the MCP server then says `Authorization: DPoP <token>` with a fresh
// proof (htm, htu, ath, jti). The gateway checks the proof against the request and cnf.jkt, takes
// each proof once, and with MCPAuthDPoPNonce On answers a proof without its nonce with 401
// use_dpop_nonce and a DPoP-Nonce header, which the client retries inline; past half a nonce's
// life it hands out a fresh one with the (proxied) answer.
//
//   /mcp-v2          MCPAuthDPoP allowed (the default): bearer and DPoP-bound tokens
//   /mcp-dpop-nonce  MCPAuthDPoPNonce On
//   /mcp-dpop-only   MCPAuthDPoP required: bearer tokens refused, the challenge offers DPoP alone
//
// Each test prints the request sequence as the client put it on the wire (the headers after the
// SDK's DPoP layer: scheme, proof, its nonce) and checks it against httpd's access log.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { DpopSession } from '@modelcontextprotocol/client';
import { MemoryOAuthProvider, recordingFetch, resultText, settled } from './client.mjs';
import { DpopProvider, MODERN, sdk2Login, sdk2Open, claimsOf } from './sdk2.mjs';
import {
  GW, ISSUER, V2_MCP_URL, DPOP_NONCE_MCP_URL, DPOP_ONLY_MCP_URL,
  RELAY_KEY_FILE, accessLogSize, accessLogSince, seenSince, seenMark, challengesOf, replay, atGateway, accepted,
} from './testenv.mjs';

const TOKEN_URL = `${ISSUER}/protocol/openid-connect/token`;
// idp.mjs: the proofs of a client with this in its client_name need the IdP's nonce
const IDP_NONCE_MARK = '[idp-dpop-nonce]';

const opened = [];
after(async () => {
  for (const c of opened) await c.close().catch(() => {});
});

// ---- what went on the wire

/** One line per request: method, path, status, scheme, proof (with nonce and ath or not). */
function formatWire(wire) {
  return wire.map((e, i) => {
    const u = new URL(e.url);
    let s = `${String(i + 1).padStart(2)}. [${e.via}] ${e.method} ${u.origin === GW ? 'gateway' : 'idp'} ${u.pathname}`;
    if (e.rpc) s += ` (${e.rpc})`;
    if (e.grantType) s += ` (grant_type=${e.grantType})`;
    s += ` -> ${e.status ?? '(no answer)'}`;
    s += e.scheme ? `  auth=${e.scheme}` : '  auth=none';
    if (e.proofClaims) {
      const c = e.proofClaims;
      s += `  proof(${[c.nonce ? 'nonce' : 'no nonce', c.ath ? 'ath' : 'no ath'].join(', ')})`;
    } else {
      s += '  no proof';
    }
    if (e.wwwAuthenticate) s += `  WWW-Authenticate: ${e.wwwAuthenticate.replace(/resource_metadata="[^"]*"/g, 'resource_metadata=…')}`;
    if (e.dpopNonce) s += '  DPoP-Nonce: (set)';
    return s;
  }).join('\n');
}

function printWire(t, title, wire) {
  t.diagnostic(`request sequence (${title}):`);
  for (const line of formatWire(wire).split('\n')) t.diagnostic(line);
}


/** Access-log entries after `offset` for `paths`, once there are at least `count` of them (2 s at most). */
async function gatewayLog(offset, paths, count) {
  const deadline = Date.now() + 2000;
  for (;;) {
    const lines = (await accessLogSince(offset, { settleMs: 0 })).filter((e) => paths.includes(e.path?.split('?')[0]));
    if (lines.length >= count || Date.now() > deadline) return lines;
    await new Promise((r) => { setTimeout(r, 25); });
  }
}

/** The gateway's access log agrees with what the client saw: same requests, same answers. */
async function assertAccessLog(offset, wire, url) {
  const seen = atGateway(wire, url);
  const path = new URL(url).pathname;
  const lines = await gatewayLog(offset, [path], seen.length);
  const key = (e) => `${e.method} ${e.status}`;
  assert.deepEqual(lines.map(key).sort(), seen.map(key).sort(),
    `httpd logged the requests the client made to ${path}:\n${lines.map((l) => l.line).join('\n')}`);
  return lines;
}

// ---- one DPoP login at /mcp-v2, shared by the first two tests

let first;
async function firstLogin() {
  if (!first) {
    const wire = [];
    const provider = new DpopProvider({ clientName: 'dpop e2e (dana)' });
    const offset = accessLogSize();
    const result = await sdk2Login(V2_MCP_URL, provider, [], { username: 'dana', fetch: recordingFetch(wire) });
    assert.equal(result.error, undefined, `login: ${result.error} ${result.error_description}`);
    first = { provider, wire, offset, session: await provider.dpop() };
  }
  return first;
}


// ============================================================================================

test('DPoP end to end at /mcp-v2: token_type DPoP, cnf.jkt, every MCP request with Authorization: DPoP and a proof', async (t) => {
  const { provider, wire, offset, session } = await firstLogin();
  try {
    const tokens = provider.tokens();
    assert.equal(tokens.token_type?.toLowerCase(), 'dpop', `the IdP issued a DPoP token (token_type ${tokens.token_type})`);
    const claims = claimsOf(tokens.access_token);
    assert.equal(claims.cnf?.jkt, session.thumbprint, 'the access token is bound to the session\'s key (cnf.jkt)');
    assert.equal(claims.aud, V2_MCP_URL);
    const prm = await (await fetch(`${GW}/.well-known/oauth-protected-resource/mcp-v2`)).json();
    assert.ok(prm.dpop_signing_alg_values_supported?.includes('ES256'), `the PRM names the proof algs: ${JSON.stringify(prm)}`);
    assert.equal(prm.dpop_bound_access_tokens_required, false, 'and takes bearer tokens too');
    const tokenRequest = wire.find((e) => e.grantType === 'authorization_code');
    assert.ok(tokenRequest?.proofClaims, 'the token request carried a DPoP proof');
    assert.equal(tokenRequest.proofClaims.htu, TOKEN_URL);
    assert.equal(tokenRequest.proofClaims.htm, 'POST');
    assert.equal(tokenRequest.status, 200);

    const mark = await seenMark();
    const { client } = await sdk2Open(V2_MCP_URL, provider, [], { fetch: recordingFetch(wire) });
    opened.push(client);
    const { tools } = await client.listTools();
    assert.ok(tools.some((x) => x.name === 'whoami'), 'tools/list through the gateway');
    const me = JSON.parse(resultText(await client.callTool({ name: 'whoami', arguments: {} })));
    assert.equal(me.remoteUser, 'dana', 'the server sees the token\'s subject');
    assert.equal(me.authorizationReceived, false, 'the token does not reach the server');
    assert.ok(!me.headerNames.includes('dpop'), 'nor does the proof (it is for this hop)');
    assert.equal(resultText(await client.callTool({ name: 'echo', arguments: { text: 'bound' } })), 'bound');
    assert.ok((await seenSince(mark)).some((e) => e.rpc === 'tools/call' && e.remoteUser === 'dana'));

    // the essential shape at the gateway
    const gw = atGateway(await settled(wire), V2_MCP_URL);
    const [challenge, ...rest] = gw;
    assert.equal(challenge.status, 401, 'the first request is refused');
    assert.equal(challenge.scheme, undefined, 'it had no token');
    const offered = challengesOf(challenge.wwwAuthenticate);
    assert.ok(offered.Bearer && offered.DPoP, `Bearer and DPoP offered: ${challenge.wwwAuthenticate}`);
    assert.match(offered.DPoP.algs ?? '', /\bES256\b/, 'the DPoP challenge names ES256');
    assert.ok(rest.length >= 4, `initialize, tools/list, tools/call x2 at least: ${formatWire(gw)}`);
    for (const e of rest) {
      assert.equal(e.scheme, 'DPoP', `Authorization: DPoP on ${e.method} ${e.rpc ?? ''}`);
      assert.ok(e.proofClaims, `a proof on ${e.method} ${e.rpc ?? ''}`);
      assert.equal(e.proofClaims.htm, e.method);
      assert.equal(e.proofClaims.htu, V2_MCP_URL);
      assert.ok(e.proofClaims.ath, 'the proof hashes the token (ath)');
      assert.equal(e.proofClaims.nonce, undefined, 'no nonce: /mcp-v2 asks for none');
      assert.ok(accepted(e), `${e.method} ${e.rpc ?? ''} -> ${e.status}`);
    }
    for (const rpc of ['initialize', 'tools/list', 'tools/call']) {
      assert.ok(rest.some((e) => e.rpc === rpc && e.status === 200), `${rpc} answered 200`);
    }
    const jtis = rest.map((e) => e.proofClaims.jti);
    assert.equal(new Set(jtis).size, jtis.length, 'a fresh proof for every request');
    const logged = await assertAccessLog(offset, wire, V2_MCP_URL);
    assert.match(logged.find((l) => l.status === 401)?.line ?? '', /wwwauth="Bearer .*DPoP .*algs=/, 'httpd logged the DPoP challenge');
  } finally {
    printWire(t, 'SDK 2.x with DPoP at /mcp-v2 (MCPAuthDPoP allowed)', wire);
  }
});

test('DPoP-bound token replayed: as Bearer invalid_token, with the used proof invalid_dpop_proof, with another key\'s proof too', async () => {
  const { provider, wire, session } = await firstLogin();
  const call = wire.find((e) => e.url === V2_MCP_URL && e.rpc === 'tools/call' && e.status === 200 && e.proof);
  assert.ok(call, 'a tools/call the client made (first test)');
  const token = provider.tokens().access_token;
  const mark = await seenMark();

  const bearer = await replay(call, { authorization: `Bearer ${token}`, dpop: null });
  assert.equal(bearer.res.status, 401, `as Bearer: ${bearer.text}`);
  assert.equal(bearer.challenges.Bearer?.error, 'invalid_token', `the error in the Bearer challenge: ${bearer.res.headers.get('www-authenticate')}`);
  assert.match(bearer.challenges.Bearer.error_description ?? '', /bearer/i);
  assert.ok(bearer.challenges.DPoP, 'DPoP still offered');

  const same = await replay(call);
  assert.equal(same.res.status, 401, `the same proof again: ${same.text}`);
  assert.equal(same.challenges.DPoP?.error, 'invalid_dpop_proof', `the error in the DPoP challenge: ${same.res.headers.get('www-authenticate')}`);
  assert.match(same.challenges.DPoP.error_description ?? '', /replay/i);
  assert.equal(same.challenges.Bearer?.error, undefined, 'the error goes to the scheme the client used');

  const thief = await DpopSession.create();
  const stolen = await replay(call, { dpop: await thief.buildProof({ htm: 'POST', htu: V2_MCP_URL, accessToken: token }) });
  assert.equal(stolen.res.status, 401, `a proof by another key: ${stolen.text}`);
  assert.equal(stolen.challenges.DPoP?.error, 'invalid_dpop_proof');
  assert.match(stolen.challenges.DPoP.error_description ?? '', /not the key/i);

  assert.deepEqual((await seenSince(mark)).filter((e) => e.remoteUser === 'dana'), [], 'none of them reached the server');

  // the owner's fresh proof passes: the refusals above are the replays'
  const fresh = await replay(call, { dpop: await session.buildProof({ htm: 'POST', htu: V2_MCP_URL, accessToken: token }) });
  assert.equal(fresh.res.status, 200, `a fresh proof of the key: ${fresh.text}`);
  assert.match(fresh.text, /dana/);
});

// ---- one DPoP client at /mcp-dpop-nonce (2026-07-28), shared by the nonce tests

let nonceFirst;
async function nonceClient() {
  if (!nonceFirst) {
    const wire = [];
    const provider = new DpopProvider({ clientName: 'dpop e2e nonce (nina)' });
    const offset = accessLogSize();
    const result = await sdk2Login(DPOP_NONCE_MCP_URL, provider, [], { username: 'nina', fetch: recordingFetch(wire), clientOptions: MODERN });
    assert.equal(result.error, undefined, `login: ${result.error} ${result.error_description}`);
    const { client } = await sdk2Open(DPOP_NONCE_MCP_URL, provider, [], { fetch: recordingFetch(wire), clientOptions: MODERN });
    opened.push(client);
    nonceFirst = { provider, client, wire, offset, session: await provider.dpop() };
  }
  return nonceFirst;
}

test('MCPAuthDPoPNonce On: the client meets use_dpop_nonce once, retries with the nonce, and the calls succeed', async (t) => {
  const { provider, client, wire, offset } = await nonceClient();
  try {
    assert.equal(provider.tokens().token_type?.toLowerCase(), 'dpop');
    assert.ok((await client.listTools()).tools.some((x) => x.name === 'whoami'));
    const me = JSON.parse(resultText(await client.callTool({ name: 'whoami', arguments: {} })));
    assert.equal(me.remoteUser, 'nina');

    const gw = atGateway(await settled(wire), DPOP_NONCE_MCP_URL);
    const asked = gw.filter((e) => e.status === 401 && /use_dpop_nonce/.test(e.wwwAuthenticate ?? ''));
    assert.equal(asked.length, 1, `one use_dpop_nonce: the client keeps the nonce:\n${formatWire(gw)}`);
    const [nonce401] = asked;
    assert.equal(nonce401.scheme, 'DPoP');
    assert.equal(nonce401.proofClaims.nonce, undefined, 'the refused proof had no nonce');
    assert.ok(nonce401.dpopNonce, 'the 401 carries a DPoP-Nonce header');
    assert.equal(challengesOf(nonce401.wwwAuthenticate).DPoP?.error, 'use_dpop_nonce', nonce401.wwwAuthenticate);
    const retry = gw[gw.indexOf(nonce401) + 1];
    assert.ok(retry && retry.rpc === nonce401.rpc && retry.method === nonce401.method, 'the same request again, right after');
    assert.equal(retry.proofClaims?.nonce, nonce401.dpopNonce, 'its proof carries the gateway\'s nonce');
    assert.notEqual(retry.proofClaims.jti, nonce401.proofClaims.jti, 'a new proof, not the refused one');
    assert.equal(retry.status, 200);
    for (const e of gw.slice(gw.indexOf(retry))) {
      assert.equal(e.scheme, 'DPoP');
      assert.ok(e.proofClaims?.nonce, `${e.rpc ?? e.method}: the nonce in every later proof`);
      assert.ok(accepted(e), `${e.rpc ?? e.method} -> ${e.status}`);
    }
    const logged = await assertAccessLog(offset, wire, DPOP_NONCE_MCP_URL);
    assert.equal(logged.filter((l) => l.status === 401 && /use_dpop_nonce/.test(l.line)).length, 1,
      'httpd logged one 401 use_dpop_nonce');
  } finally {
    printWire(t, 'SDK 2.x with DPoP at /mcp-dpop-nonce (MCPAuthDPoPNonce On), 2026-07-28', wire);
  }
});

/**
 * A nonce of the gateway made `age` seconds ago, sealed as mcp_seal.c seals it: AES-256-GCM under
 * SHA-256 of the relay key file; version byte 2 and the key id (the first 4 bytes of SHA-256 of
 * "mod_mcp_auth relay key id" and the key) in front, then the 96-bit IV, the ciphertext (the
 * time in seconds) and the tag; purpose "dpop-nonce" and the header as associated data.
 */
function gatewayNonce(age) {
  const key = crypto.createHash('sha256').update(fs.readFileSync(RELAY_KEY_FILE)).digest();
  const id = crypto.createHash('sha256').update('mod_mcp_auth relay key id').update(key).digest().subarray(0, 4);
  const header = Buffer.concat([Buffer.from([2]), id]);
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.concat([Buffer.from('dpop-nonce'), header]));
  const sealed = Buffer.concat([cipher.update(String(Math.floor(Date.now() / 1000) - age)), cipher.final()]);
  return Buffer.concat([header, iv, sealed, cipher.getAuthTag()]).toString('base64url');
}

test('MCPAuthDPoPNonce On: past half its life a nonce is answered with a fresh one, which the client takes up', async (t) => {
  const { provider, client, session, wire } = await nonceClient();
  const call = wire.find((e) => e.url === DPOP_NONCE_MCP_URL && e.rpc === 'tools/call' && e.status === 200);
  assert.ok(call, 'a tools/call the client made');
  const token = provider.tokens().access_token;
  const withNonce = async (nonce) => replay(call, {
    dpop: await session.buildProof({ htm: 'POST', htu: DPOP_NONCE_MCP_URL, accessToken: token, nonce }),
  });

  // raw: a young nonce passes as it is, an old one passes with a new nonce, an expired one does not
  const young = await withNonce(gatewayNonce(10));
  assert.equal(young.res.status, 200, `a nonce made 10 s ago: ${young.text}`);
  assert.equal(young.res.headers.get('dpop-nonce'), null, 'no new nonce while the old one is young');
  const old = await withNonce(gatewayNonce(200));
  assert.equal(old.res.status, 200, `a nonce made 200 s ago (of 300): ${old.text}`);
  const fresh = old.res.headers.get('dpop-nonce');
  assert.ok(fresh, 'the answer carries a fresh DPoP-Nonce (RFC 9449 §8.2), through the proxy');
  const expired = await withNonce(gatewayNonce(400));
  assert.equal(expired.res.status, 401, `a nonce made 400 s ago: ${expired.text}`);
  assert.equal(expired.challenges.DPoP?.error, 'use_dpop_nonce');
  assert.ok(expired.res.headers.get('dpop-nonce'));
  const renewed = await withNonce(fresh);
  assert.equal(renewed.res.status, 200, 'the fresh nonce is good');

  // the SDK client: it holds an aging nonce, gets a fresh one with an answer, and uses it next
  const from = wire.length;
  session.rememberNonce(DPOP_NONCE_MCP_URL, gatewayNonce(200));
  assert.equal(resultText(await client.callTool({ name: 'echo', arguments: { text: 'one' } })), 'one');
  assert.equal(resultText(await client.callTool({ name: 'echo', arguments: { text: 'two' } })), 'two');
  const [first, second, ...more] = atGateway((await settled(wire)).slice(from), DPOP_NONCE_MCP_URL);
  printWire(t, 'SDK 2.x at /mcp-dpop-nonce holding a nonce 200 s old', [first, second, ...more]);
  assert.equal(first.status, 200, 'the aging nonce still passes');
  assert.ok(first.dpopNonce, 'and its answer carries a fresh nonce');
  assert.equal(second.status, 200);
  assert.equal(second.proofClaims.nonce, first.dpopNonce, 'the client\'s next proof carries the fresh nonce');
  assert.equal(second.dpopNonce, undefined, 'no other nonce while that one is young');
});

test('MCPAuthDPoP required: a client without DPoP logs in, gets a bearer token, and is refused with a DPoP-only challenge', async (t) => {
  const wire = [];
  const provider = new MemoryOAuthProvider({ clientName: 'dpop e2e plain (pat)' });
  const offset = accessLogSize();
  const mark = await seenMark();
  try {
    const prm = await (await fetch(`${GW}/.well-known/oauth-protected-resource/mcp-dpop-only`)).json();
    assert.equal(prm.dpop_bound_access_tokens_required, true, JSON.stringify(prm));
    assert.ok(prm.dpop_signing_alg_values_supported?.includes('ES256'), JSON.stringify(prm));

    const result = await sdk2Login(DPOP_ONLY_MCP_URL, provider, [], { username: 'pat', fetch: recordingFetch(wire) });
    assert.equal(result.error, undefined, 'the SDK finds the metadata through the DPoP challenge and logs in');
    assert.equal(provider.tokens().token_type?.toLowerCase(), 'bearer', 'no proof, so a bearer token');
    assert.equal(claimsOf(provider.tokens().access_token).cnf, undefined);

    let failure;
    try {
      const { client } = await sdk2Open(DPOP_ONLY_MCP_URL, provider, [], { fetch: recordingFetch(wire) });
      opened.push(client);
    } catch (e) {
      failure = e;
    }
    assert.ok(failure, 'the connection fails');
    t.diagnostic(`the SDK's error: ${failure?.constructor?.name}: ${failure?.message}`);

    const gw = atGateway(await settled(wire), DPOP_ONLY_MCP_URL);
    assert.ok(gw.length >= 2, formatWire(gw));
    for (const e of gw) {
      assert.equal(e.status, 401, `${e.method} ${e.rpc ?? ''} with ${e.scheme ?? 'no token'} refused`);
      assert.match(e.wwwAuthenticate ?? '', /^DPoP /, 'a DPoP challenge');
      assert.doesNotMatch(e.wwwAuthenticate, /Bearer/, 'and no Bearer one');
    }
    const withToken = gw.filter((e) => e.scheme === 'Bearer');
    assert.ok(withToken.length >= 1, 'the bearer token was tried');
    for (const e of withToken) {
      assert.equal(challengesOf(e.wwwAuthenticate).DPoP?.error, 'invalid_token', e.wwwAuthenticate);
    }
    assert.deepEqual((await seenSince(mark)).filter((e) => e.remoteUser === 'pat'), [], 'nothing reached the server');
    await assertAccessLog(offset, wire, DPOP_ONLY_MCP_URL);
  } finally {
    printWire(t, 'SDK 2.x without DPoP at /mcp-dpop-only (MCPAuthDPoP required)', wire);
  }
});

test('MCPAuthDPoP required, a DPoP client whose IdP wants nonces too: 400 use_dpop_nonce at the token endpoint, then the calls succeed', async (t) => {
  const wire = [];
  const provider = new DpopProvider({ clientName: `dpop e2e ${IDP_NONCE_MARK} (ida)` });
  const session = await provider.dpop();
  const offset = accessLogSize();
  try {
    const result = await sdk2Login(DPOP_ONLY_MCP_URL, provider, [], { username: 'ida', fetch: recordingFetch(wire) });
    assert.equal(result.error, undefined, `login: ${result.error} ${result.error_description}`);
    const tokenRequests = wire.filter((e) => e.grantType === 'authorization_code');
    assert.deepEqual(tokenRequests.map((e) => [e.status, Boolean(e.proofClaims?.nonce)]), [[400, false], [200, true]],
      'the token request: refused for want of the IdP\'s nonce, then sent again with it');
    assert.ok(tokenRequests[0].dpopNonce, 'the IdP\'s 400 carries a DPoP-Nonce');
    assert.equal(tokenRequests[1].proofClaims.nonce, tokenRequests[0].dpopNonce);
    assert.equal(provider.tokens().token_type?.toLowerCase(), 'dpop');
    assert.equal(claimsOf(provider.tokens().access_token).cnf?.jkt, session.thumbprint);

    const { client } = await sdk2Open(DPOP_ONLY_MCP_URL, provider, [], { fetch: recordingFetch(wire) });
    opened.push(client);
    const me = JSON.parse(resultText(await client.callTool({ name: 'whoami', arguments: {} })));
    assert.equal(me.remoteUser, 'ida');
    const gw = atGateway(await settled(wire), DPOP_ONLY_MCP_URL).slice(1);
    assert.ok(gw.length >= 2 && gw.every((e) => e.scheme === 'DPoP' && e.proofClaims && accepted(e)),
      `every request after the login with DPoP, accepted:\n${formatWire(gw)}`);
    for (const e of gw) {
      assert.equal(e.proofClaims.nonce, undefined, 'no nonce at the gateway: the IdP\'s is for its own origin');
    }
    await assertAccessLog(offset, wire, DPOP_ONLY_MCP_URL);
  } finally {
    printWire(t, 'SDK 2.x with DPoP at /mcp-dpop-only (required), IdP nonces', wire);
  }
});
