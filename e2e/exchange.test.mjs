// Token exchange (MCPAuthTokenExchange, issue 19) with the MCP SDK clients, the e2e IdP and MCP
// servers that check the token they get.
//
// The client logs in at the IdP for the gateway's location (its token's aud is the location's
// URL); the gateway validates that token, exchanges it at the IdP's token endpoint for a token
// meant for the MCP server, and forwards only the new one. The MCP servers behind it check that
// token with their SDK's own bearer middleware (upstream-token.mjs: the IdP's signature, their own
// audience, a subject, act naming the gateway's client) and have a tool, upstream_token, that
// tells what they verified and the token's SHA-256. They also record a hash of every token that
// reached them (/_tokens): the client's own token must never be among them.
//
//   /mcp-exchange         RFC 8693 as mcp-exchanger (a secret), audience= scope=tickets:read (SDK 1.x server)
//   /mcp-exchange-jwt     RFC 8693 as mcp-exchanger-jwt (private_key_jwt), resource= (SDK 2.x server)
//   /mcp-exchange-opaque  opaque client tokens, introspected, then exchanged (SDK 2.x server)
//   /mcp-exchange-short   exchanged tokens of 10 s (SDK 1.x server)
//   /mcp-obo              Entra's on-behalf-of (jwt-bearer grant), header=X-Upstream-Token (SDK 1.x server)
//   failures: refused by the IdP (403, JSON-RPC error -32003 with the IdP's OAuth error,
//   MCPAUTH0072) and IdP down, slow or broken (503 with Retry-After, MCPAUTH0073).
//
// The IdP counts token requests per grant (/_hits "grant:<grant_type>"): the tests count exchanges.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  MemoryOAuthProvider, connectWithOAuth, disconnect, recordingFetch, resultText, settled, claimsOf,
} from './client.mjs';
import {
  DpopProvider, MODERN, sdk2Login, sdk2Open, connectWithOAuth2,
} from './sdk2.mjs';
import {
  ISSUER, EXCHANGE_MCP_URL, EXCHANGE_JWT_MCP_URL, EXCHANGE_OPAQUE_MCP_URL, EXCHANGE_SHORT_MCP_URL, OBO_MCP_URL,
  EXCHANGE_REFUSED_MCP_URL, OBO_REFUSED_MCP_URL, EXCHANGE_NO_GRANT_MCP_URL, EXCHANGE_BAD_SECRET_MCP_URL, EXCHANGE_DOWN_MCP_URL,
  EXCHANGE_SLOW_MCP_URL, EXCHANGE_BROKEN_MCP_URL, MCP_TOKENS_URL, V2_TOKENS_URL, INTROSPECTION_URL,
  INITIALIZE, mintToken, foreignKey, atGateway, accepted, challengesOf,
} from './testenv.mjs';
import {
  sha256, TICKETS_AUDIENCE, TICKETS_SHORT_AUDIENCE, OBO_AUDIENCE,
} from './upstream-token.mjs';

const ERROR_LOG = `${process.env.STATE}/httpd/logs/error_log`;
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const INTROSPECTION_PATH = new URL(INTROSPECTION_URL).pathname;

const opened = [];
after(async () => {
  for (const c of opened) await (c.transport ? disconnect(c) : c.close()).catch(() => {});
});

// Every client token of this file (SHA-256): none may ever reach an MCP server (last test).
const clientTokens = new Set();
const remember = (token) => {
  clientTokens.add(sha256(token));
  return sha256(token);
};

// ---- helpers

async function idpHits() {
  return (await fetch(new URL('/_hits', ISSUER))).json();
}
/** Token requests with `grant` that reached the IdP so far. */
async function exchanges(grant = TOKEN_EXCHANGE) {
  return (await idpHits())[`grant:${grant}`] ?? 0;
}

/** The tokens record of an MCP server (upstream-token.mjs TokenRecord) after entry `since`. */
async function tokensSeen(url, since = 0) {
  const res = await fetch(`${url}?since=${since}`);
  assert.equal(res.status, 200, `${url} answers`);
  return res.json();
}
async function tokensMark(url) {
  const all = await tokensSeen(url);
  return all.length ? all[all.length - 1].n : 0;
}

function errorLogSize() {
  try { return fs.statSync(ERROR_LOG).size; } catch { return 0; }
}
/** Error-log lines written after `offset` that carry `code` (e.g. MCPAUTH0072). */
async function errorLogLines(offset, code, { waitMs = 3000 } = {}) {
  // httpd writes the line while it answers: give it a moment on a busy machine
  const deadline = Date.now() + waitMs;
  for (;;) {
    let text = '';
    try { text = fs.readFileSync(ERROR_LOG).subarray(offset).toString('utf8'); } catch { /* no log */ }
    const lines = text.split('\n').filter((l) => l.includes(code));
    if (lines.length || Date.now() > deadline) return lines;
    await new Promise((r) => { setTimeout(r, 100); });
  }
}

/** What the MCP server verified, from its upstream_token tool. */
async function upstreamToken(client) {
  return JSON.parse(resultText(await client.callTool({ name: 'upstream_token', arguments: {} })));
}
const whoami = async (client) => JSON.parse(resultText(await client.callTool({ name: 'whoami', arguments: {} })));

/** POSTs a JSON-RPC request with a bearer token: { res, text, json, ms }. */
async function postRpc(url, token, message = { ...INITIALIZE, id: 7 }) {
  const started = Date.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}`,
    },
    body: JSON.stringify(message),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { res, text, json, ms: Date.now() - started };
}

/** A token the gateway takes at `url` (signed with the IdP's key, as the IdP would issue it). */
const tokenFor = (url, sub) => mintToken({ aud: url, sub, scope: 'openid mcp:tools' });

/** Asserts the JSON-RPC error body of an exchange failure: { code -32003, data.error }. */
function assertExchangeError(answer, id, error) {
  assert.equal(answer.res.headers.get('content-type')?.split(';')[0], 'application/json', answer.text);
  assert.ok(answer.json, `a JSON body: ${answer.text}`);
  assert.equal(answer.json.jsonrpc, '2.0', answer.text);
  assert.equal(answer.json.id, id, `the request's id: ${answer.text}`);
  assert.equal(answer.json.result, undefined);
  assert.equal(answer.json.error?.code, -32003, answer.text);
  assert.equal(typeof answer.json.error.message, 'string');
  if (error !== undefined) {
    assert.equal(answer.json.error.data?.error, error, answer.text);
    assert.ok(answer.json.error.message.includes(error), `the message names the IdP's error: ${answer.json.error.message}`);
  }
}

// ============================================================================================
// Successful exchanges

let erinsExchanged; // the token the first test's user got for the MCP server (SHA-256)

test('RFC 8693 at /mcp-exchange, SDK 1.x client and server: the server gets a token for its own audience, the user\'s subject, act naming the gateway; never the client\'s; one exchange for the whole session', async (t) => {
  const before = await exchanges();
  const mark = await tokensMark(MCP_TOKENS_URL);
  const conn = await connectWithOAuth(EXCHANGE_MCP_URL, { username: 'erin' });
  opened.push(conn);
  try {
    const clientToken = conn.provider.tokens().access_token;
    const clientHash = remember(clientToken);
    assert.equal(claimsOf(clientToken).aud, EXCHANGE_MCP_URL, 'the client\'s token is for the gateway\'s location');

    const seen = await upstreamToken(conn.client);
    t.diagnostic(`the MCP server verified: ${JSON.stringify({ ...seen, tokenSha256: `${seen.tokenSha256.slice(0, 12)}…` })}`);
    assert.equal(seen.verified, true);
    assert.equal(seen.aud, TICKETS_AUDIENCE, 'a token for the MCP server\'s own audience');
    assert.equal(seen.sub, 'erin', 'for the user who logged in');
    assert.deepEqual(seen.act, { sub: 'mcp-exchanger' }, 'act names the gateway\'s client (RFC 8693 §4.1)');
    assert.equal(seen.azp, 'mcp-exchanger');
    assert.equal(seen.scope, 'tickets:read', 'the scope the gateway asked for');
    assert.equal(seen.iss, ISSUER);
    assert.notEqual(seen.tokenSha256, clientHash, 'not the client\'s token');
    erinsExchanged = seen.tokenSha256;

    const me = await whoami(conn.client);
    assert.equal(me.remoteUser, 'erin', 'MCPAuthClaimHeader still comes from the client\'s token');
    assert.equal(me.authorizationReceived, true, 'an Authorization header: the exchanged token');
    assert.equal(resultText(await conn.client.callTool({ name: 'echo', arguments: { text: 'swapped' } })), 'swapped');
    assert.equal((await upstreamToken(conn.client)).tokenSha256, seen.tokenSha256, 'the same exchanged token again');

    const mcpRequests = atGateway(await settled(conn.log), EXCHANGE_MCP_URL).filter((e) => e.token === clientToken);
    assert.ok(mcpRequests.length >= 6 && mcpRequests.every(accepted),
      `the client's token on every request, accepted: ${mcpRequests.map((e) => `${e.rpc ?? e.method} ${e.status}`)}`);
    assert.equal(await exchanges() - before, 1, `one exchange for ${mcpRequests.length} requests`);

    const record = (await tokensSeen(MCP_TOKENS_URL, mark)).filter((e) => e.path === '/mcp-exchange');
    assert.ok(record.length >= mcpRequests.length - 1, `the requests reached the server: ${record.length}`);
    for (const e of record) {
      assert.equal(e.authorization, seen.tokenSha256, `${e.method}: the exchanged token (${e.outcome})`);
      assert.equal(e.outcome, 'accepted');
    }
  } finally {
    t.diagnostic(`SDK 1.x: ${conn.log.filter((e) => e.url.startsWith(EXCHANGE_MCP_URL)).map((e) => `${e.method} ${e.rpc ?? ''} ${e.status}`).join(', ')}`);
  }
});

test('a fresh client token on 12 requests at once at /mcp-exchange: exactly one exchange, one new token for all 12, that user\'s own', async () => {
  const provider = new MemoryOAuthProvider({ clientName: 'exchange e2e burst (bert)' });
  const login = await sdk2Login(EXCHANGE_MCP_URL, provider, [], { username: 'bert' });
  assert.equal(login.error, undefined, `login: ${login.error} ${login.error_description}`);
  const token = provider.tokens().access_token;
  const clientHash = remember(token);
  const before = await exchanges();
  const mark = await tokensMark(MCP_TOKENS_URL);
  const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => postRpc(EXCHANGE_MCP_URL, token, { ...INITIALIZE, id: i + 1 })));
  assert.deepEqual(answers.map((a) => a.res.status), Array(12).fill(200), answers.map((a) => a.text.slice(0, 200)).join('\n'));
  assert.equal(await exchanges() - before, 1, 'one exchange for the 12 requests (the others waited for it)');
  const record = (await tokensSeen(MCP_TOKENS_URL, mark)).filter((e) => e.path === '/mcp-exchange');
  assert.equal(record.length, 12, 'the 12 requests reached the server');
  const hashes = new Set(record.map((e) => e.authorization));
  assert.equal(hashes.size, 1, 'all with the same exchanged token');
  assert.ok(!hashes.has(clientHash), 'not the client\'s');
  assert.ok(record.every((e) => e.outcome === 'accepted'), record.map((e) => e.outcome).join(', '));

  // the kept token is this user's, not another's (the first test's erin at the same location)
  const { client } = await sdk2Open(EXCHANGE_MCP_URL, provider, []);
  opened.push(client);
  const seen = await upstreamToken(client);
  assert.equal(seen.sub, 'bert');
  assert.ok(hashes.has(seen.tokenSha256), 'the token kept from the burst');
  assert.notEqual(seen.tokenSha256, erinsExchanged, 'not the token exchanged for erin');
  assert.equal(await exchanges() - before, 1, 'still one exchange');
});

test('private_key_jwt at /mcp-exchange-jwt, SDK 2.x client (2026-07-28) and SDK 2.x server: resource=, the client token\'s scope, act naming mcp-exchanger-jwt', async (t) => {
  const wire = [];
  const provider = new MemoryOAuthProvider({ clientName: 'exchange e2e private_key_jwt (jana)' });
  const login = await sdk2Login(EXCHANGE_JWT_MCP_URL, provider, wire, { username: 'jana', clientOptions: MODERN });
  assert.equal(login.error, undefined, `login: ${login.error} ${login.error_description}`);
  const clientToken = provider.tokens().access_token;
  const clientHash = remember(clientToken);
  const before = await exchanges();
  const mark = await tokensMark(V2_TOKENS_URL);
  const failures = errorLogSize();
  const { client } = await sdk2Open(EXCHANGE_JWT_MCP_URL, provider, wire, { clientOptions: MODERN });
  opened.push(client);
  try {
    const seen = await upstreamToken(client);
    t.diagnostic(`the MCP server verified: ${JSON.stringify({ ...seen, tokenSha256: `${seen.tokenSha256.slice(0, 12)}…` })}`);
    assert.equal(seen.aud, TICKETS_AUDIENCE);
    assert.equal(seen.sub, 'jana');
    assert.deepEqual(seen.act, { sub: 'mcp-exchanger-jwt' }, 'the gateway authenticated as mcp-exchanger-jwt');
    assert.equal(seen.scope, claimsOf(clientToken).scope, 'no scope= asked: the client token\'s scope');
    assert.notEqual(seen.tokenSha256, clientHash);
    const { tools } = await client.listTools();
    assert.ok(tools.some((x) => x.name === 'upstream_token'), 'tools/list through the gateway');
    assert.equal((await whoami(client)).remoteUser, 'jana');
    assert.equal(await exchanges() - before, 1, 'one exchange');
    assert.deepEqual(await errorLogLines(failures, 'MCPAUTH0072', { waitMs: 0 }), [], 'the IdP took the client assertion');
    const gw = atGateway(await settled(wire), EXCHANGE_JWT_MCP_URL).filter((e) => e.token === clientToken);
    assert.ok(gw.length >= 3 && gw.every(accepted), gw.map((e) => `${e.rpc ?? e.method} ${e.status}`).join(', '));
    const record = (await tokensSeen(V2_TOKENS_URL, mark)).filter((e) => e.path === '/mcp-exchange');
    assert.ok(record.length >= 3, `requests at the 2.x server: ${record.length}`);
    assert.ok(record.every((e) => e.authorization === seen.tokenSha256 && e.outcome === 'accepted'),
      JSON.stringify(record.map((e) => e.outcome)));
  } finally {
    t.diagnostic(`SDK 2.x: ${wire.filter((e) => e.url.startsWith(EXCHANGE_JWT_MCP_URL)).map((e) => `${e.method} ${e.rpc ?? ''} ${e.status}`).join(', ')}`);
  }
});

test('a DPoP-bound client token at /mcp-exchange-jwt (SDK 2.x client with DPoP): exchanged like any other; the server gets a Bearer token, no proof', async () => {
  const wire = [];
  const provider = new DpopProvider({ clientName: 'exchange e2e dpop (dag)' });
  const login = await sdk2Login(EXCHANGE_JWT_MCP_URL, provider, [], { username: 'dag', clientOptions: MODERN });
  assert.equal(login.error, undefined, `login: ${login.error} ${login.error_description}`);
  const tokens = provider.tokens();
  assert.equal(tokens.token_type?.toLowerCase(), 'dpop', 'the IdP bound the client\'s token');
  assert.equal(claimsOf(tokens.access_token).cnf?.jkt, (await provider.dpop()).thumbprint);
  const clientHash = remember(tokens.access_token);
  const before = await exchanges();
  const mark = await tokensMark(V2_TOKENS_URL);
  const { client } = await sdk2Open(EXCHANGE_JWT_MCP_URL, provider, wire, { clientOptions: MODERN });
  opened.push(client);
  const seen = await upstreamToken(client);
  assert.equal(seen.sub, 'dag');
  assert.equal(seen.aud, TICKETS_AUDIENCE);
  assert.notEqual(seen.tokenSha256, clientHash);
  const me = await whoami(client);
  assert.ok(!me.headerNames.includes('dpop'), `no DPoP proof reaches the server: ${me.headerNames}`);
  const gw = atGateway(await settled(wire), EXCHANGE_JWT_MCP_URL).filter((e) => e.token === tokens.access_token);
  assert.ok(gw.length >= 3 && gw.every((e) => e.scheme === 'DPoP' && e.proof && accepted(e)),
    gw.map((e) => `${e.scheme} ${e.rpc ?? e.method} ${e.status}`).join(', '));
  assert.equal(await exchanges() - before, 1, 'one exchange');
  const record = (await tokensSeen(V2_TOKENS_URL, mark)).filter((e) => e.path === '/mcp-exchange');
  assert.ok(record.length >= 3 && record.every((e) => e.authorization === seen.tokenSha256 && e.outcome === 'accepted'),
    JSON.stringify(record.map((e) => e.outcome)));
});

test('an opaque client token at /mcp-exchange-opaque: introspected, then exchanged for a JWT the 2.x server verifies; one of each', async () => {
  const provider = new MemoryOAuthProvider({ clientName: 'exchange e2e opaque (omar)' });
  const login = await sdk2Login(EXCHANGE_OPAQUE_MCP_URL, provider, [], { username: 'omar' });
  assert.equal(login.error, undefined, `login: ${login.error} ${login.error_description}`);
  const clientToken = provider.tokens().access_token;
  assert.equal(clientToken.split('.').length, 1, 'the client\'s token is opaque');
  const clientHash = remember(clientToken);
  const before = await idpHits();
  const { client } = await sdk2Open(EXCHANGE_OPAQUE_MCP_URL, provider, []);
  opened.push(client);
  const seen = await upstreamToken(client);
  assert.equal(seen.aud, TICKETS_AUDIENCE);
  assert.equal(seen.sub, 'omar', 'the subject of the opaque token');
  assert.deepEqual(seen.act, { sub: 'mcp-exchanger' });
  assert.equal(seen.scope, 'tickets:read tickets:write', 'scope= given twice: both asked for');
  assert.notEqual(seen.tokenSha256, clientHash);
  assert.equal((await whoami(client)).remoteUser, 'omar');
  const hits = await idpHits();
  assert.equal((hits[`grant:${TOKEN_EXCHANGE}`] ?? 0) - (before[`grant:${TOKEN_EXCHANGE}`] ?? 0), 1, 'one exchange');
  assert.equal((hits[INTROSPECTION_PATH] ?? 0) - (before[INTROSPECTION_PATH] ?? 0), 1, 'one introspection');
});

test('on-behalf-of at /mcp-obo (SDK 2.x client, SDK 1.x server): a token for api://tickets in X-Upstream-Token, no act, azp the gateway; a client\'s own X-Upstream-Token never passes', async (t) => {
  const forged = await mintToken({ aud: OBO_AUDIENCE, sub: 'mallory', scope: 'tickets:read tickets:write' });
  const before = await exchanges(JWT_BEARER);
  const mark = await tokensMark(MCP_TOKENS_URL);
  const conn = await connectWithOAuth2(OBO_MCP_URL, { username: 'olivia', headers: { 'X-Upstream-Token': forged } });
  opened.push(conn);
  const clientToken = conn.provider.tokens().access_token;
  const clientHash = remember(clientToken);
  const seen = await upstreamToken(conn.client);
  t.diagnostic(`the MCP server verified: ${JSON.stringify({ ...seen, tokenSha256: `${seen.tokenSha256.slice(0, 12)}…` })}`);
  assert.equal(seen.via, 'x-upstream-token');
  assert.equal(seen.aud, OBO_AUDIENCE, 'the scope\'s resource');
  assert.equal(seen.sub, 'olivia', 'the user, not the forged header\'s mallory');
  assert.equal(seen.act, null, 'no act: Entra adds none');
  assert.equal(seen.azp, 'mcp-exchanger', 'azp names the gateway\'s client');
  assert.equal(seen.scope, 'tickets:read tickets:write', '.default: all of the resource\'s permissions');
  assert.notEqual(seen.tokenSha256, clientHash);
  assert.notEqual(seen.tokenSha256, sha256(forged));
  const me = await whoami(conn.client);
  assert.equal(me.remoteUser, 'olivia');
  assert.equal(me.authorizationReceived, false, 'no Authorization header reaches the server: the token is in X-Upstream-Token');
  assert.ok(me.headerNames.includes('x-upstream-token'));
  assert.equal(await exchanges(JWT_BEARER) - before, 1, 'one on-behalf-of request');
  const record = (await tokensSeen(MCP_TOKENS_URL, mark)).filter((e) => e.path === '/mcp-obo');
  assert.ok(record.length >= 3, `requests at the server: ${record.length}`);
  for (const e of record) {
    assert.equal(e.authorization, null, `${e.method}: no Authorization`);
    assert.equal(e.upstream, seen.tokenSha256, `${e.method}: the exchanged token in X-Upstream-Token`);
    assert.equal(e.outcome, 'accepted');
  }
});

test('exchanged tokens that live 10 s at /mcp-exchange-short: kept while good, exchanged again before they expire; the server never gets an expired one', async (t) => {
  const before = await exchanges();
  const mark = await tokensMark(MCP_TOKENS_URL);
  const conn = await connectWithOAuth(EXCHANGE_SHORT_MCP_URL, { username: 'sven' });
  opened.push(conn);
  remember(conn.provider.tokens().access_token);
  const first = await upstreamToken(conn.client);
  assert.equal(first.aud, TICKETS_SHORT_AUDIENCE);
  assert.ok(first.exp - Date.now() / 1000 <= 11, `a short-lived token: exp in ${first.exp - Date.now() / 1000} s`);
  const uses = [];
  let next;
  const deadline = Date.now() + 40_000;
  while (Date.now() < deadline) {
    const seen = await upstreamToken(conn.client); // fails if the server refused an expired token
    const at = Date.now() / 1000;
    if (seen.tokenSha256 !== first.tokenSha256) {
      next = seen;
      break;
    }
    uses.push(at);
    await new Promise((r) => { setTimeout(r, 250); });
  }
  t.diagnostic(`the first token (exp ${first.exp}) was used ${uses.length + 1} times, the last ${(first.exp - uses.at(-1)).toFixed(1)} s before it expired`);
  assert.ok(next, 'a new token within 40 s');
  assert.ok(uses.length >= 2, `the first token was kept for later requests: ${uses.length}`);
  assert.ok(uses.every((at) => at < first.exp), 'and only used while it was valid');
  assert.ok(next.exp > first.exp, 'the new token expires later');
  assert.equal(next.sub, 'sven');
  assert.equal(await exchanges() - before, 2, 'two exchanges: one per token');
  const record = (await tokensSeen(MCP_TOKENS_URL, mark)).filter((e) => e.path === '/mcp-exchange-short');
  assert.ok(record.every((e) => e.outcome === 'accepted'), `the server took every request: ${record.filter((e) => e.outcome !== 'accepted').map((e) => e.outcome)}`);
});

// ============================================================================================
// Failures: the client gets an answer it can read, the MCP server nothing

test('a request the gateway denies (MCPAuthToolRule) costs no exchange; an allowed one with the same token does', async () => {
  const token = await tokenFor(EXCHANGE_MCP_URL, 'dana');
  remember(token);
  const before = await exchanges();
  const mark = await tokensMark(MCP_TOKENS_URL);
  const denied = await postRpc(EXCHANGE_MCP_URL, token, {
    jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'secret_report', arguments: {} },
  });
  // the gateway answers a denied tool as a server answers one it does not have (README)
  assert.equal(denied.res.status, 200, denied.text);
  assert.equal(denied.json?.id, 3, denied.text);
  assert.equal(denied.json?.error?.code, -32602, `the rule's refusal, not an exchange's: ${denied.text}`);
  assert.match(denied.json.error.message, /Unknown tool: secret_report/);
  assert.equal(await exchanges() - before, 0, 'the IdP was not asked for a denied request');
  const allowed = await postRpc(EXCHANGE_MCP_URL, token);
  assert.equal(allowed.res.status, 200, allowed.text);
  assert.equal(await exchanges() - before, 1, 'an allowed request is exchanged');
  const record = await tokensSeen(MCP_TOKENS_URL, mark);
  assert.deepEqual(record.map((e) => e.outcome), ['accepted'], 'only the allowed request reached the server');
});

for (const { url, error, description, grant, what } of [
  {
    url: EXCHANGE_REFUSED_MCP_URL, error: 'invalid_target', description: 'no tokens are issued for https://unknown.example.test',
    grant: TOKEN_EXCHANGE, what: 'an audience the IdP does not issue tokens for',
  },
  {
    url: OBO_REFUSED_MCP_URL, error: 'invalid_scope', description: 'no resource api://unknown is known here',
    grant: JWT_BEARER, what: 'an on-behalf-of scope of an unknown resource',
  },
  {
    url: EXCHANGE_NO_GRANT_MCP_URL, error: 'unauthorized_client', description: 'requested grant type is not allowed for this client',
    grant: TOKEN_EXCHANGE, what: 'a gateway client without the grant',
  },
  {
    url: EXCHANGE_BAD_SECRET_MCP_URL, error: 'invalid_client', description: 'client authentication failed',
    grant: TOKEN_EXCHANGE, what: 'a wrong client secret, HTTP 401 from the IdP',
  },
]) {
  test(`refused by the IdP (${error}: ${what}) at ${new URL(url).pathname}: 403 with a JSON-RPC error -32003, MCPAUTH0072, nothing reaches the MCP server; the refusal is remembered`, async (t) => {
    const token = await tokenFor(url, 'rita');
    remember(token);
    const mark = await tokensMark(MCP_TOKENS_URL);
    const log = errorLogSize();
    const before = await exchanges(grant);
    const first = await postRpc(url, token);
    t.diagnostic(`answer: ${first.res.status} ${first.text}`);
    assert.equal(first.res.status, 403, first.text);
    assertExchangeError(first, 7, error);
    // the client's token was fine: no challenge may tell the client to drop it or to step up
    for (const [scheme, params] of Object.entries(challengesOf(first.res.headers.get('www-authenticate')))) {
      assert.equal(params.error, undefined, `${scheme} challenge without an error: ${first.res.headers.get('www-authenticate')}`);
    }
    const lines = await errorLogLines(log, 'MCPAUTH0072');
    assert.ok(lines.some((l) => l.includes(error) && l.includes(description)),
      `MCPAUTH0072 with the IdP's error and error_description: ${lines.join('\n')}`);
    assert.equal(await exchanges(grant) - before, 1, 'the gateway asked the IdP once');

    // the same token again right away: the IdP's refusal is kept for 5 s
    const started = Date.now();
    const again = await postRpc(url, token, { jsonrpc: '2.0', id: 'second', method: 'tools/list', params: {} });
    assert.equal(again.res.status, 403, again.text);
    assertExchangeError(again, 'second', error);
    // a GET (the SSE stream) has no JSON-RPC id: the error's id is null
    const stream = await fetch(url, {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(60_000),
    });
    const streamText = await stream.text();
    assert.equal(stream.status, 403, streamText);
    assertExchangeError({ res: stream, text: streamText, json: JSON.parse(streamText) }, null, error);
    if (Date.now() - started < 4000) {
      assert.equal(await exchanges(grant) - before, 1, 'not asked again within 5 s');
    } else {
      t.diagnostic(`the later requests took ${Date.now() - started} ms: the remembered refusal is not checked`);
    }
    assert.deepEqual(await tokensSeen(MCP_TOKENS_URL, mark), [], 'no request reached the MCP server');
  });
}

test('the refusal reaches an SDK 2.x client as an error naming the IdP\'s error, and the MCP server is not called', async (t) => {
  const provider = new MemoryOAuthProvider({ clientName: 'exchange e2e refused (rolf)' });
  const login = await sdk2Login(EXCHANGE_REFUSED_MCP_URL, provider, [], { username: 'rolf' });
  assert.equal(login.error, undefined, `login: ${login.error} ${login.error_description}`);
  remember(provider.tokens().access_token);
  const mark = await tokensMark(MCP_TOKENS_URL);
  const wire = [];
  await assert.rejects(sdk2Open(EXCHANGE_REFUSED_MCP_URL, provider, wire), (err) => {
    t.diagnostic(`the SDK 2.x client says: ${err.constructor.name} ${err.code ?? ''} ${err.message}`);
    assert.match(`${err.message} ${JSON.stringify(err.data ?? '')}`, /invalid_target/, `the error the user sees: ${err.message}`);
    return true;
  });
  assert.ok(wire.some((e) => e.status === 403), `a 403: ${wire.map((e) => `${e.method} ${e.status}`)}`);
  assert.equal(provider.authorizationCount, 1, 'no new login: the client\'s token was fine');
  assert.deepEqual(await tokensSeen(MCP_TOKENS_URL, mark), []);
});

test('a client token the gateway refuses (another key) is never sent to the IdP: 401, no exchange', async () => {
  const token = await mintToken({ aud: EXCHANGE_MCP_URL, sub: 'eve', key: foreignKey() });
  remember(token);
  const before = await exchanges();
  const answer = await postRpc(EXCHANGE_MCP_URL, token);
  assert.equal(answer.res.status, 401, answer.text);
  assert.match(answer.res.headers.get('www-authenticate') ?? '', /invalid_token/);
  assert.equal(await exchanges() - before, 0);
});

for (const { url, what, bound, asked } of [
  { url: EXCHANGE_DOWN_MCP_URL, what: 'a token endpoint nobody listens on', bound: 20_000, asked: 0 },
  { url: EXCHANGE_SLOW_MCP_URL, what: 'an IdP that answers after 15 s (MCPAuthFetchTimeout 2 3)', bound: 12_000, asked: 1 },
  { url: EXCHANGE_BROKEN_MCP_URL, what: 'an IdP that answers 502 with an HTML page', bound: 20_000, asked: 1 },
]) {
  test(`IdP unavailable (${what}) at ${new URL(url).pathname}: 503 with Retry-After and a JSON-RPC error -32003 in time, MCPAUTH0073, nothing reaches the MCP server`, async (t) => {
    const token = await tokenFor(url, 'uma');
    remember(token);
    const mark = await tokensMark(MCP_TOKENS_URL);
    const log = errorLogSize();
    const before = await exchanges();
    const answer = await postRpc(url, token);
    t.diagnostic(`answer after ${answer.ms} ms: ${answer.res.status} Retry-After: ${answer.res.headers.get('retry-after')} ${answer.text}`);
    assert.equal(answer.res.status, 503, answer.text);
    assert.ok(answer.ms < bound, `answered within ${bound} ms: ${answer.ms} ms`);
    assert.match(answer.res.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/, 'Retry-After in seconds');
    assertExchangeError(answer, 7);
    assert.match(answer.json.error.message, /unavailable/i, answer.json.error.message);
    assert.equal(await exchanges() - before, asked, asked ? 'the IdP was asked' : 'nothing reached the IdP');
    const lines = await errorLogLines(log, 'MCPAUTH0073');
    assert.ok(lines.length >= 1, 'MCPAUTH0073 in the error log');
    t.diagnostic(lines.join('\n'));
    assert.deepEqual(await tokensSeen(MCP_TOKENS_URL, mark), [], 'no request reached the MCP server');
  });
}

test('no client token of this file ever reached an MCP server (the two servers\' whole records)', async () => {
  assert.ok(clientTokens.size >= 10, `client tokens used: ${clientTokens.size}`);
  const all = [...await tokensSeen(MCP_TOKENS_URL), ...await tokensSeen(V2_TOKENS_URL)];
  assert.ok(all.length > 0);
  const leaked = all.filter((e) => clientTokens.has(e.authorization) || clientTokens.has(e.upstream));
  assert.deepEqual(leaked, [], 'the client\'s token never reached the MCP server');
});
