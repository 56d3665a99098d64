// Opaque access tokens (RFC 7662 introspection) with the MCP SDK clients, the e2e IdP and the
// SDK 2.x server behind the gateway; and a DPoP client at the OAuth relay.
//
// The IdP issues opaque tokens (no JWT: a reference only it can read) for the resources
// /mcp-opaque and /mcp-opaque-jwt (IDP_OPAQUE_RESOURCES in run.sh); the gateway asks the IdP's
// introspection_endpoint (MCPAuthIntrospection discovery) about each token it has not seen, as a
// client of its own:
//
//   /mcp-opaque      mcp-introspector, client_secret_basic; answers kept 60 s (the default)
//   /mcp-opaque-jwt  mcp-introspector-jwt, private_key_jwt (an EC key, kid=introspector-jwt);
//                    answers kept 3 s, refusals 1 s
//   GW3 /mcp         MCPAuthProvider keycloak: the gateway is the authorization server (relay)
//
// The IdP counts the requests per path (/_hits): the tests count its introspection requests.
// Each test prints the requests its client made (scheme, DPoP proof or not, status).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { DpopSession } from '@modelcontextprotocol/client';
import {
  MemoryOAuthProvider, connectWithOAuth, disconnect, recordingFetch, resultText, settled,
} from './client.mjs';
import { DpopProvider, MODERN, sdk2Login, sdk2Open, claimsOf } from './sdk2.mjs';
import {
  GW3, GW3_MCP_URL, GW3_AS_URL, GW3_PRM_URL, GW3_TOKEN_URL, ISSUER,
  OPAQUE_MCP_URL, OPAQUE_JWT_MCP_URL, OPAQUE_JWT_CACHE_SECONDS, INTROSPECTION_URL, REVOCATION_URL,
  INTROSPECTOR_SECRET_FILE, postInitialize, seenSince, seenMark, challengesOf, replay, atGateway, accepted,
} from './testenv.mjs';

const ERROR_LOG = `${process.env.STATE}/httpd/logs/error_log`;
const INTROSPECTION_PATH = new URL(INTROSPECTION_URL).pathname;

const opened = [];
after(async () => {
  for (const c of opened) await c.close().catch(() => {});
});

// ---- helpers

/** True for a JWS compact serialisation (three base64url parts, a JSON header with alg). */
function looksLikeJwt(token) {
  const parts = token.split('.');
  if (parts.length !== 3) return false;
  try {
    return typeof JSON.parse(Buffer.from(parts[0], 'base64url')).alg === 'string';
  } catch {
    return false;
  }
}

/** How many requests reached the IdP's introspection endpoint so far. */
async function introspections() {
  const hits = await (await fetch(new URL('/_hits', ISSUER))).json();
  return hits[INTROSPECTION_PATH] ?? 0;
}

/** The IdP's introspection answer for `token`, asked as mcp-introspector (as the gateway does). */
async function introspect(token) {
  const secret = fs.readFileSync(INTROSPECTOR_SECRET_FILE, 'utf8').trim();
  const res = await fetch(INTROSPECTION_URL, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`mcp-introspector:${secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
  });
  assert.equal(res.status, 200, 'the IdP takes mcp-introspector');
  return res.json();
}

/** Revokes `token` at the IdP (RFC 7009) as the public client that holds it. */
async function revoke(token, clientId) {
  const res = await fetch(REVOCATION_URL, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token, token_type_hint: 'access_token', client_id: clientId }),
  });
  assert.equal(res.status, 200, `revocation: ${await res.text()}`);
}

/** Error-log lines past `offset` that say an introspection failed (MCPAUTH0065). */
function errorLogSize() {
  try { return fs.statSync(ERROR_LOG).size; } catch { return 0; }
}
function introspectionFailuresSince(offset) {
  let text = '';
  try { text = fs.readFileSync(ERROR_LOG).subarray(offset).toString('utf8'); } catch { /* no log */ }
  return text.split('\n').filter((l) => l.includes('MCPAUTH0065'));
}

function printWire(t, title, wire) {
  t.diagnostic(`request sequence (${title}):`);
  wire.forEach((e, i) => {
    const u = new URL(e.url);
    let s = `${String(i + 1).padStart(2)}. ${e.method} ${u.origin === new URL(ISSUER).origin ? 'idp' : 'gateway'} ${u.pathname}`;
    if (e.rpc) s += ` (${e.rpc})`;
    if (e.grantType) s += ` (grant_type=${e.grantType})`;
    s += ` -> ${e.status ?? '(no answer)'}  auth=${e.scheme ?? 'none'}  ${e.proof ? 'proof' : 'no proof'}`;
    if (e.wwwAuthenticate) s += `  WWW-Authenticate: ${e.wwwAuthenticate.replace(/resource_metadata="[^"]*"/g, 'resource_metadata=…')}`;
    t.diagnostic(s);
  });
}

const whoami = async (client) => JSON.parse(resultText(await client.callTool({ name: 'whoami', arguments: {} })));

// ============================================================================================

test('opaque token at /mcp-opaque (client_secret_basic): the SDK 2.x client logs in and calls; one introspection for all its requests', async (t) => {
  const wire = [];
  const provider = new MemoryOAuthProvider({ clientName: 'opaque e2e (olga)' });
  const failures = errorLogSize();
  try {
    const result = await sdk2Login(OPAQUE_MCP_URL, provider, [], { username: 'olga', fetch: recordingFetch(wire) });
    assert.equal(result.error, undefined, `login: ${result.error} ${result.error_description}`);
    const tokens = provider.tokens();
    assert.equal(tokens.token_type?.toLowerCase(), 'bearer');
    assert.ok(!looksLikeJwt(tokens.access_token), `the access token is opaque, not a JWT: ${tokens.access_token.slice(0, 12)}…`);
    assert.ok(wire.some((e) => e.url.startsWith(ISSUER) && e.grantType === 'authorization_code' && e.status === 200),
      'the client redeemed its code at the IdP itself (the gateway is no relay here)');

    const before = await introspections();
    const mark = await seenMark();
    const { client } = await sdk2Open(OPAQUE_MCP_URL, provider, [], { fetch: recordingFetch(wire) });
    opened.push(client);
    const { tools } = await client.listTools();
    assert.ok(tools.some((x) => x.name === 'whoami'), 'tools/list through the gateway');
    const me = await whoami(client);
    assert.equal(me.remoteUser, 'olga', 'the server sees the subject of the introspection answer');
    assert.equal(me.authorizationReceived, false, 'the token does not reach the server');
    assert.equal(resultText(await client.callTool({ name: 'echo', arguments: { text: 'opaque' } })), 'opaque');
    assert.equal(resultText(await client.callTool({ name: 'echo', arguments: { text: 'again' } })), 'again');
    const used = atGateway(await settled(wire), OPAQUE_MCP_URL).filter((e) => e.token === tokens.access_token);
    assert.ok(used.length >= 5 && used.every(accepted), `the token on every request, accepted: ${used.map((e) => `${e.rpc ?? e.method} ${e.status}`)}`);
    assert.equal(await introspections() - before, 1, `one introspection for ${used.length} requests: the answer is cached`);
    assert.ok((await seenSince(mark)).some((e) => e.rpc === 'tools/call' && e.remoteUser === 'olga'));
    assert.deepEqual(introspectionFailuresSince(failures), [], 'no MCPAUTH0065 in the error log');

    // what the gateway was told (asked here again, as the gateway's client)
    const answer = await introspect(tokens.access_token);
    assert.equal(answer.active, true);
    assert.equal(answer.aud, OPAQUE_MCP_URL, 'for this resource');
    assert.equal(answer.sub, 'olga');
    assert.match(answer.scope, /\bmcp:tools\b/, 'with the scope Require mcp-scope asks for');
    assert.equal(answer.token_type, 'Bearer');
  } finally {
    printWire(t, 'SDK 2.x at /mcp-opaque', wire);
  }
});

test('opaque token at /mcp-opaque with the SDK 1.x client: login, tools/list and tools/call, one introspection', async (t) => {
  const before = await introspections();
  const conn = await connectWithOAuth(OPAQUE_MCP_URL, { username: 'otto' });
  try {
    assert.ok(conn.authorization?.code, 'the client logged in');
    assert.ok(!looksLikeJwt(conn.provider.tokens().access_token), 'its access token is opaque');
    assert.ok((await conn.client.listTools()).tools.some((x) => x.name === 'echo'));
    assert.equal((await whoami(conn.client)).remoteUser, 'otto');
    assert.equal(resultText(await conn.client.callTool({ name: 'echo', arguments: { text: 'one-x' } })), 'one-x');
    assert.equal(await introspections() - before, 1, 'one introspection for the whole session');
  } finally {
    t.diagnostic(`SDK 1.x: ${conn.log.filter((e) => e.url.startsWith(OPAQUE_MCP_URL)).map((e) => `${e.method} ${e.rpc ?? ''} ${e.status}`).join(', ')}`);
    await disconnect(conn);
  }
});

test('a new opaque token on 12 requests at once: one introspection (the others wait for its answer); at another location, audience mismatch', async () => {
  const provider = new MemoryOAuthProvider({ clientName: 'opaque e2e burst (bea)' });
  const result = await sdk2Login(OPAQUE_MCP_URL, provider, [], { username: 'bea' });
  assert.equal(result.error, undefined, `login: ${result.error} ${result.error_description}`);
  const token = provider.tokens().access_token;
  const before = await introspections();
  const answers = await Promise.all(Array.from({ length: 12 }, () => postInitialize(OPAQUE_MCP_URL, token)));
  assert.deepEqual(answers.map((a) => a.res.status), Array(12).fill(200));
  assert.equal(await introspections() - before, 1, 'one question for the 12 requests');

  const elsewhere = await postInitialize(OPAQUE_JWT_MCP_URL, token);
  assert.equal(elsewhere.res.status, 401, 'the token is for /mcp-opaque only');
  const { Bearer: refused } = challengesOf(elsewhere.res.headers.get('www-authenticate'));
  assert.equal(refused?.error, 'invalid_token');
  assert.match(refused.error_description ?? '', /audience/);
});

// ---- one login at /mcp-opaque-jwt, shared by the private_key_jwt and revocation tests

let jwtLogin;
async function loginAtJwtLocation(t) {
  if (!jwtLogin) {
    const wire = [];
    const provider = new MemoryOAuthProvider({ clientName: 'opaque e2e private_key_jwt (jules)' });
    try {
      const result = await sdk2Login(OPAQUE_JWT_MCP_URL, provider, [], { username: 'jules', fetch: recordingFetch(wire), clientOptions: MODERN });
      assert.equal(result.error, undefined, `login: ${result.error} ${result.error_description}`);
    } finally {
      printWire(t, 'SDK 2.x login at /mcp-opaque-jwt', wire);
    }
    jwtLogin = { provider, wire };
  }
  return jwtLogin;
}

test('private_key_jwt at /mcp-opaque-jwt: the gateway signs a client assertion (aud = the issuer) the IdP takes; calls succeed', async (t) => {
  const { provider } = await loginAtJwtLocation(t);
  const failures = errorLogSize();
  const before = await introspections();
  const wire = [];
  const { client } = await sdk2Open(OPAQUE_JWT_MCP_URL, provider, [], { fetch: recordingFetch(wire), clientOptions: MODERN });
  opened.push(client);
  try {
    assert.ok(!looksLikeJwt(provider.tokens().access_token), 'an opaque token');
    assert.ok((await client.listTools()).tools.some((x) => x.name === 'whoami'));
    assert.equal((await whoami(client)).remoteUser, 'jules');
    assert.ok(await introspections() - before >= 1, 'the gateway asked the IdP');
    assert.deepEqual(introspectionFailuresSince(failures), [],
      'no MCPAUTH0065: the IdP took the assertion (a refused client is a 503 with that message)');
    const gw = atGateway(await settled(wire), OPAQUE_JWT_MCP_URL);
    assert.ok(gw.length >= 3 && gw.every(accepted), gw.map((e) => `${e.rpc ?? e.method} ${e.status}`).join(', '));
  } finally {
    printWire(t, 'SDK 2.x at /mcp-opaque-jwt (2026-07-28)', wire);
  }
});

test(`a revoked opaque token is refused within MCPAuthIntrospectionCache (${OPAQUE_JWT_CACHE_SECONDS} s) at /mcp-opaque-jwt`, async (t) => {
  const { provider } = await loginAtJwtLocation(t);
  const token = provider.tokens().access_token;
  const clientId = provider.clientInformation().client_id;
  const first = await postInitialize(OPAQUE_JWT_MCP_URL, token);
  assert.equal(first.res.status, 200, `the token passes before: ${first.body.slice(0, 200)}`);

  await revoke(token, clientId);
  const revokedAt = Date.now();
  assert.equal((await introspect(token)).active, false, 'the IdP says the token is no longer active');

  // poll until the gateway refuses it: the cached answer lasts MCPAuthIntrospectionCache at most
  const slackMs = 3000;
  const deadline = revokedAt + OPAQUE_JWT_CACHE_SECONDS * 1000 + slackMs;
  let taken = 0;
  let last;
  for (;;) {
    last = await postInitialize(OPAQUE_JWT_MCP_URL, token);
    if (last.res.status !== 200 || Date.now() > deadline) break;
    taken += 1;
    await new Promise((r) => { setTimeout(r, 100); });
  }
  const elapsed = Date.now() - revokedAt;
  t.diagnostic(`refused ${elapsed} ms after the revocation; taken ${taken} times before (the cached answer)`);
  assert.equal(last.res.status, 401, `refused before the deadline: ${last.res.status} ${last.body.slice(0, 200)}`);
  assert.equal(challengesOf(last.res.headers.get('www-authenticate')).Bearer?.error, 'invalid_token',
    last.res.headers.get('www-authenticate'));
  assert.ok(elapsed <= OPAQUE_JWT_CACHE_SECONDS * 1000 + slackMs, `within ${OPAQUE_JWT_CACHE_SECONDS} s (+ slack): ${elapsed} ms`);
  const again = await postInitialize(OPAQUE_JWT_MCP_URL, token);
  assert.equal(again.res.status, 401, 'and stays refused');
});

test('DPoP-bound opaque token at /mcp-opaque: cnf.jkt in the introspection answer, calls with DPoP pass, the token as Bearer is refused', async (t) => {
  const wire = [];
  const provider = new DpopProvider({ clientName: 'opaque e2e dpop (dora)' });
  const session = await provider.dpop();
  try {
    const result = await sdk2Login(OPAQUE_MCP_URL, provider, [], { username: 'dora', fetch: recordingFetch(wire) });
    assert.equal(result.error, undefined, `login: ${result.error} ${result.error_description}`);
    const tokens = provider.tokens();
    assert.equal(tokens.token_type?.toLowerCase(), 'dpop', `the IdP bound the token (token_type ${tokens.token_type})`);
    assert.ok(!looksLikeJwt(tokens.access_token), 'an opaque token: the binding is known from introspection only');
    const answer = await introspect(tokens.access_token);
    assert.equal(answer.active, true);
    assert.equal(answer.cnf?.jkt, session.thumbprint, `the introspection answer names the session's key: ${JSON.stringify(answer.cnf)}`);
    assert.equal(answer.token_type, 'DPoP');

    const { client } = await sdk2Open(OPAQUE_MCP_URL, provider, [], { fetch: recordingFetch(wire) });
    opened.push(client);
    assert.ok((await client.listTools()).tools.some((x) => x.name === 'whoami'));
    const me = await whoami(client);
    assert.equal(me.remoteUser, 'dora');
    assert.ok(!me.headerNames.includes('dpop'), 'the proof does not reach the server');
    const gw = atGateway(await settled(wire), OPAQUE_MCP_URL).filter((e) => e.token);
    assert.ok(gw.length >= 3, `requests with the token: ${gw.length}`);
    for (const e of gw) {
      assert.equal(e.scheme, 'DPoP', `${e.rpc ?? e.method}: Authorization: DPoP`);
      assert.ok(e.proof, `${e.rpc ?? e.method}: with a proof`);
      assert.ok(accepted(e), `${e.rpc ?? e.method} -> ${e.status}`);
    }

    const call = gw.find((e) => e.rpc === 'tools/call' && e.status === 200);
    const bearer = await replay(call, { authorization: `Bearer ${tokens.access_token}`, dpop: null });
    assert.equal(bearer.res.status, 401, `the bound token as Bearer: ${bearer.text}`);
    assert.equal(bearer.challenges.Bearer?.error, 'invalid_token', bearer.res.headers.get('www-authenticate'));
    const thief = await DpopSession.create();
    const stolen = await replay(call, {
      dpop: await thief.buildProof({ htm: 'POST', htu: OPAQUE_MCP_URL, accessToken: tokens.access_token }),
    });
    assert.equal(stolen.res.status, 401, `with another key's proof: ${stolen.text}`);
    assert.equal(stolen.challenges.DPoP?.error, 'invalid_dpop_proof');
    const fresh = await replay(call, {
      dpop: await session.buildProof({ htm: 'POST', htu: OPAQUE_MCP_URL, accessToken: tokens.access_token }),
    });
    assert.equal(fresh.res.status, 200, `a fresh proof of the session's key: ${fresh.text}`);
  } finally {
    printWire(t, 'SDK 2.x with DPoP at /mcp-opaque', wire);
  }
});

test('OAuth relay (keycloak mode) and a DPoP client: no DPoP in the relay\'s metadata, its proof ignored, a Bearer token the client uses as one', async (t) => {
  const wire = [];
  const provider = new DpopProvider({ clientName: 'relay e2e dpop (rita)' });
  try {
    const as = await (await fetch(GW3_AS_URL)).json();
    assert.equal(as.issuer, GW3_MCP_URL, 'the gateway is the authorization server');
    assert.equal(as.dpop_signing_alg_values_supported, undefined, `no DPoP at the relay: ${JSON.stringify(as)}`);
    const prm = await (await fetch(GW3_PRM_URL)).json();
    t.diagnostic(`the resource's metadata: dpop_signing_alg_values_supported ${JSON.stringify(prm.dpop_signing_alg_values_supported)}`);

    const result = await sdk2Login(GW3_MCP_URL, provider, [], { username: 'rita', fetch: recordingFetch(wire) });
    assert.equal(result.error, undefined, `login: ${result.error} ${result.error_description}`);
    const tokenRequest = wire.find((e) => e.url === GW3_TOKEN_URL && e.grantType === 'authorization_code');
    assert.ok(tokenRequest, 'the code was redeemed at the relay');
    assert.ok(tokenRequest.proof, 'with a DPoP proof (the SDK sends one whatever the metadata says)');
    assert.equal(tokenRequest.status, 200, 'which the relay ignores');
    const tokens = provider.tokens();
    assert.equal(tokens.token_type, 'Bearer', `token_type Bearer (RFC 9449 §5): ${tokens.token_type}`);
    assert.equal(claimsOf(tokens.access_token).cnf, undefined, 'the token is not bound');

    const { client } = await sdk2Open(GW3_MCP_URL, provider, [], { fetch: recordingFetch(wire) });
    opened.push(client);
    assert.ok((await client.listTools()).tools.some((x) => x.name === 'whoami'));
    assert.equal((await whoami(client)).remoteUser, 'rita');
    const gw = atGateway(await settled(wire), GW3_MCP_URL).filter((e) => e.token);
    assert.ok(gw.length >= 2, `requests with the token: ${gw.length}`);
    for (const e of gw) {
      assert.equal(e.scheme, 'Bearer', `${e.rpc ?? e.method}: Authorization: Bearer`);
      assert.equal(e.proof, undefined, `${e.rpc ?? e.method}: no proof`);
      assert.ok(e.status < 300, `${e.rpc ?? e.method} -> ${e.status}`);
    }
    assert.ok(wire.every((e) => new URL(e.url).origin === GW3), 'the client talked to the gateway only');
  } finally {
    printWire(t, 'SDK 2.x with DPoP at the relay (GW3 /mcp, keycloak)', wire);
  }
});
