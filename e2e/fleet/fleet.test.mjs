// A gateway fleet: two hosts (gw1, gw2: httpd + mod_mcp_auth, the relay in keycloak mode) behind a
// round-robin front (mod_proxy_balancer, no stickiness), sharing one Redis (MCPAuthCache) and one
// MCPAuthRelayKey file, in front of the e2e IdP and the SDK 2.x MCP server. Clients only know the
// front's URL, so each step of a login may land on either host; what one host sealed or marked
// used must hold on the other. run.sh starts the stack; fleet.sh restarts parts of it.
//
// Which host answered: the X-Fleet-Host header each gateway adds (mod_headers). The gateway's
// metadata documents are answered by a quick handler, before mod_headers runs, so they carry none;
// for those the front's X-Fleet-Member (the balancer member it chose) says it, marked with "*".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import crypto from 'node:crypto';
import path from 'node:path';
import { SignJWT, importJWK } from 'jose';
import { StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';
import { CookieJar, MemoryOAuthProvider, headlessAuthorize, recordingFetch, resultText } from '../client.mjs';
import { newClient2, claimsOf } from '../sdk2.mjs';
import { need, FRONT, HOSTS, ISSUER, STATE, fleetCtl } from './env.mjs';

const IDP = new URL(ISSUER).origin;
const MCP_URL = `${FRONT}/mcp`;
const ENDPOINT = (name) => `/.well-known/mcp-auth/${name}/mcp`;
const other = (host) => (host === 'gw1' ? 'gw2' : 'gw1');

/**
 * fetch for recordingFetch (as its baseFetch): notes on the request's log entry which host
 * answered. recordingFetch pushes the entry and calls its baseFetch in the same tick, so the
 * entry is the log's last one when this starts.
 */
const hostNoting = (log, base = globalThis.fetch) => async (input, init) => {
  const entry = log[log.length - 1];
  const res = await base(input, init);
  if (entry) {
    entry.host = res.headers.get('x-fleet-host') ?? undefined;
    entry.member = res.headers.get('x-fleet-member') || undefined;
  }
  return res;
};
/** A recording fetch (client.mjs) whose entries say which host answered. */
const fleetFetch = (log, via, base) => recordingFetch(log, { via, baseFetch: hostNoting(log, base) });

/** The host that answered a request: gw1/gw2 (its own header), gw1*\/gw2* (the front's word), idp, client. */
function hostOf(e) {
  if (e.host) return e.host;
  if (e.member) return `${e.member}*`;
  const origin = new URL(e.url).origin;
  if (origin === IDP) return 'idp';
  if (origin === FRONT || Object.values(HOSTS).includes(origin)) return '?';
  return 'client';
}
const gatewayOf = (e) => hostOf(e).replace('*', '');

function printHosts(t, title, log) {
  t.diagnostic(`requests of ${title} (host: the answer's X-Fleet-Host; * = the front's balancer member, for answers without it):`);
  log.forEach((e, i) => {
    const u = new URL(e.url);
    let s = `${String(i + 1).padStart(2)}. ${hostOf(e).padEnd(6)} [${e.via}] ${e.method} ${u.origin}${u.pathname}`;
    if (e.rpc) s += ` (${e.rpc})`;
    if (e.grantType) s += ` (grant_type=${e.grantType})`;
    s += ` -> ${e.status ?? e.error ?? '(pending)'}`;
    t.diagnostic(s);
  });
}

/** The log entry of a relay step through the front (register, authorize, callback, token). */
function step(log, name, pred = () => true) {
  return log.find((e) => e.url.startsWith(`${FRONT}${ENDPOINT(name)}`) && pred(e));
}

/** The IdP's request counts per path (e2e/idp.mjs /_hits). */
async function idpHits() {
  const res = await fetch(`${IDP}/_hits`);
  assert.equal(res.status, 200, 'the IdP counts its requests');
  return res.json();
}
const JWKS_PATH = `${new URL(ISSUER).pathname}/protocol/openid-connect/certs`;
const TOKEN_PATH = `${new URL(ISSUER).pathname}/protocol/openid-connect/token`;

/** An access token as the IdP would issue it (signed with its own key) for the fleet's MCP URL. */
async function idpToken(sub, aud = MCP_URL) {
  const jwk = JSON.parse(fs.readFileSync(need('IDP_KEY_FILE'), 'utf8'));
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: ISSUER, sub, aud, iat: now, exp: now + 300, scope: 'openid mcp:tools',
    preferred_username: sub, client_id: 'fleet-minted', jti: crypto.randomUUID(),
  }).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: jwk.kid }).sign(await importJWK(jwk, 'RS256'));
}

const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'fleet-raw', version: '1.0.0' } },
});
async function postInitialize(url, token) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}` },
    body: INITIALIZE,
  });
  return { res, body: await res.text() };
}

/**
 * The first half of a login with the SDK 2.x client through the front: the first connect (401),
 * discovery, registration and the authorization URL. Returns { provider, transport }.
 */
async function startLogin(log, clientName) {
  const provider = new MemoryOAuthProvider({ clientName });
  const transport = new StreamableHTTPClientTransport(new URL(MCP_URL), { authProvider: provider, fetch: fleetFetch(log, 'sdk') });
  await assert.rejects(newClient2().connect(transport), (e) => e instanceof UnauthorizedError, 'the first connect asks for a login');
  assert.ok(provider.authorizationUrl, 'the SDK chose an authorization URL');
  assert.ok(provider.authorizationUrl.href.startsWith(`${FRONT}${ENDPOINT('authorize')}`), 'authorization at the front');
  return { provider, transport };
}

/** The browser step (the e2e suite's scripted browser), then finishAuth (the token request). */
async function finishLogin(log, { provider, transport }, username, browserFetch) {
  const result = await headlessAuthorize(provider.authorizationUrl, {
    redirectUrl: String(provider.redirectUrl), username, jar: new CookieJar(), fetch: fleetFetch(log, 'browser', browserFetch),
  });
  assert.equal(result.error, undefined, `the login ends with a code: ${result.error} ${result.error_description ?? ''}`);
  assert.equal(result.state, provider.expectedState, 'the client gets its own state back');
  assert.equal(result.iss, MCP_URL, 'RFC 9207: iss is the fleet\'s issuer');
  await transport.finishAuth(new URLSearchParams({ code: result.code, state: result.state, iss: result.iss }));
  await transport.close().catch(() => {});
  return result;
}

/** A connected SDK 2.x client with the provider's tokens. */
async function open(url, provider, log) {
  const client = newClient2();
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { authProvider: provider, fetch: fleetFetch(log, 'sdk') }));
  return client;
}

async function whoami(client) {
  return JSON.parse(resultText(await client.callTool({ name: 'whoami', arguments: {} })));
}

let login1; // test 1's client (provider), for the refresh test

test('a login through the front (SDK 2.x client) takes steps on both hosts and ends with working MCP calls', async (t) => {
  const log = [];
  let client;
  try {
    const started = await startLogin(log, 'fleet sdk2 client');
    await finishLogin(log, started, 'fleet-ann');
    client = await open(MCP_URL, started.provider, log);
    const { tools } = await client.listTools();
    assert.ok(tools.some((x) => x.name === 'whoami') && tools.some((x) => x.name === 'echo'), 'tools/list through the fleet');
    assert.equal(resultText(await client.callTool({ name: 'echo', arguments: { text: 'across the fleet' } })), 'across the fleet');
    const me = await whoami(client);
    assert.equal(me.remoteUser, 'fleet-ann', 'the MCP server sees the user the IdP logged in');
    assert.equal(me.authorizationReceived, false, 'the token stops at the gateway');
    const claims = claimsOf(started.provider.tokens().access_token);
    assert.equal(claims.iss, ISSUER, 'the access token is the IdP\'s');
    assert.equal(claims.aud, MCP_URL, 'for the fleet\'s public MCP URL');
    login1 = started.provider;

    const steps = {
      register: step(log, 'register', (e) => e.method === 'POST'),
      authorize: step(log, 'authorize'),
      callback: step(log, 'callback'),
      token: step(log, 'token', (e) => e.grantType === 'authorization_code'),
    };
    for (const [name, e] of Object.entries(steps)) assert.ok(e, `the login's ${name} request went through the front`);
    assert.equal(steps.register.status, 201);
    assert.equal(steps.authorize.status, 302);
    assert.equal(steps.callback.status, 302);
    assert.equal(steps.token.status, 200);
    const hosts = Object.fromEntries(Object.entries(steps).map(([name, e]) => [name, gatewayOf(e)]));
    t.diagnostic(`relay steps: ${Object.entries(hosts).map(([k, v]) => `${k}@${v}`).join(', ')}`);
    for (const [name, h] of Object.entries(hosts)) assert.ok(h === 'gw1' || h === 'gw2', `${name} was answered by a gateway (${h})`);
    assert.equal(new Set(Object.values(hosts)).size, 2, 'register, authorize, callback and token did not all land on one host');
    for (const e of log.filter((x) => x.url.startsWith(FRONT))) {
      assert.ok(['gw1', 'gw2'].includes(gatewayOf(e)), `every request to the front was answered by a gateway: ${e.method} ${e.url}`);
    }
    const mcp = log.filter((e) => e.url === MCP_URL && e.status === 200);
    assert.ok(mcp.some((e) => e.rpc === 'initialize') && mcp.some((e) => e.rpc === 'tools/list') && mcp.some((e) => e.rpc === 'tools/call'),
      'initialize, tools/list and tools/call answered 200');
  } finally {
    printHosts(t, 'the login through the front', log);
    await client?.close().catch(() => {});
  }
});

test('replays on the other host are refused: the authorization code, and the state at the callback', async (t) => {
  const log = [];
  let callback; // the browser's callback request: its URL (the IdP's code and the relay's state) and cookies
  const spy = async (input, init = {}) => {
    const url = String(input instanceof Request ? input.url : input);
    if (url.startsWith(`${FRONT}${ENDPOINT('callback')}`)) callback = { url, cookie: init.headers?.cookie };
    return fetch(input, init);
  };
  try {
    const started = await startLogin(log, 'fleet replay client');
    const { provider } = started;
    const result = await finishLogin(log, started, 'fleet-rita', spy);
    assert.ok(callback, 'the browser came back through the front\'s callback');
    assert.match(callback.cookie ?? '', /mcp_auth_[0-9a-f]{8}_login_/, 'with the login cookie the authorize step set');
    const firstCallback = step(log, 'callback');
    const redeemed = step(log, 'token', (e) => e.grantType === 'authorization_code');
    assert.equal(firstCallback.status, 302, 'the first callback sends the browser on to the client');
    assert.equal(redeemed.status, 200, 'the client redeemed its code');
    assert.ok(provider.tokens()?.access_token, 'and has tokens');

    // the same code, redeemed again at the host that did not redeem it
    const codeHost = other(gatewayOf(redeemed));
    const form = new URLSearchParams({
      grant_type: 'authorization_code', code: result.code, client_id: provider.clientInformation().client_id,
      redirect_uri: String(provider.redirectUrl), code_verifier: provider.codeVerifier(), resource: MCP_URL,
    });
    const idpBefore = (await idpHits())[TOKEN_PATH] ?? 0;
    const replay = await fleetFetch(log, 'replay')(`${HOSTS[codeHost]}${ENDPOINT('token')}`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: form,
    });
    const replayBody = await replay.text();
    const idpSaw = ((await idpHits())[TOKEN_PATH] ?? 0) - idpBefore;
    t.diagnostic(`code replayed at ${codeHost} (redeemed at ${gatewayOf(redeemed)}): ${replay.status} ${replayBody}; `
      + `token requests the IdP got meanwhile: ${idpSaw} (0: the gateway refused it itself)`);
    assert.equal(replay.headers.get('x-fleet-host'), codeHost, 'the replay reached the other host');
    assert.equal(replay.status, 400, 'a used code is refused');
    const err = JSON.parse(replayBody);
    assert.equal(err.error, 'invalid_grant', 'with the OAuth error for a used code');
    assert.match(err.error_description ?? '', /used already/, 'refused by the gateway\'s own single-use record, not only the IdP');
    assert.equal(idpSaw, 0, 'the replay never reached the IdP');
    assert.equal(err.access_token, undefined, 'no token for a replayed code');

    // the same state (with the same browser's login cookie) at the callback of the other host
    const stateHost = other(gatewayOf(firstCallback));
    const u = new URL(callback.url);
    const again = await fleetFetch(log, 'replay')(`${HOSTS[stateHost]}${u.pathname}${u.search}`, {
      headers: { accept: 'text/html', cookie: callback.cookie }, redirect: 'manual',
    });
    const againBody = await again.text();
    t.diagnostic(`callback replayed at ${stateHost} (first at ${gatewayOf(firstCallback)}): ${again.status} ${againBody}`);
    assert.equal(again.headers.get('x-fleet-host'), stateHost, 'the replay reached the other host');
    assert.equal(again.headers.get('location'), null, 'the browser is not sent to the client again (no second code)');
    assert.equal(again.status, 400, 'a used state is refused');
    assert.equal(JSON.parse(againBody).error, 'invalid_request', 'with an OAuth error');
  } finally {
    printHosts(t, 'the login and its replays', log);
  }
});

test('a refresh through the front works, and the refreshed access token works on both hosts directly', async (t) => {
  assert.ok(login1, 'the first test logged in');
  const log = [];
  const clients = [];
  try {
    const provider = login1;
    const logins = provider.authorizationCount;
    const old = provider.tokens();
    provider.saveTokens({ ...old, access_token: 'revoked-or-garbage' });
    const client = await open(MCP_URL, provider, log);
    clients.push(client);
    const refresh = log.find((e) => e.grantType === 'refresh_token');
    assert.ok(refresh, 'the client refreshed its token');
    assert.equal(refresh.url, `${FRONT}${ENDPOINT('token')}`, 'through the front');
    assert.equal(refresh.status, 200);
    assert.equal(provider.authorizationCount, logins, 'no new login');
    const fresh = provider.tokens().access_token;
    assert.notEqual(fresh, 'revoked-or-garbage');
    assert.equal(claimsOf(fresh).aud, MCP_URL, 'a token for the fleet\'s MCP URL');
    assert.equal((await whoami(client)).remoteUser, 'fleet-ann', 'through the front');

    for (const host of ['gw1', 'gw2']) {
      const direct = new MemoryOAuthProvider();
      direct.saveTokens({ access_token: fresh, token_type: 'Bearer' }); // no refresh token: this token or nothing
      const c = await open(`${HOSTS[host]}/mcp`, direct, log);
      clients.push(c);
      const me = await whoami(c);
      assert.equal(me.remoteUser, 'fleet-ann', `the refreshed token works at ${host} directly`);
      const last = log.filter((e) => e.rpc === 'tools/call').at(-1);
      assert.equal(last.host, host, `tools/call answered by ${host}`);
    }
  } finally {
    printHosts(t, 'the refresh and the direct calls', log);
    for (const c of clients) await c.close().catch(() => {});
  }
});

test('cold start: concurrent requests on both hosts with an empty Redis fetch the IdP\'s keys once', async (t) => {
  const N = 24;
  const before = await idpHits();
  await fleetCtl('cold-start');
  const tokens = await Promise.all(Array.from({ length: N }, (_, i) => idpToken(`cold-${i}`)));
  const answers = await Promise.all(tokens.map(async (token) => {
    const { res, body } = await postInitialize(MCP_URL, token);
    return { status: res.status, host: res.headers.get('x-fleet-host'), www: res.headers.get('www-authenticate'), body };
  }));
  const after = await idpHits();
  const per = { gw1: 0, gw2: 0 };
  for (const a of answers) per[a.host] = (per[a.host] ?? 0) + 1;
  const delta = (p) => (after[p] ?? 0) - (before[p] ?? 0);
  const fetched = Object.keys(after).filter((p) => delta(p) > 0).map((p) => `${p} x${delta(p)}`);
  t.diagnostic(`${N} concurrent initialize requests after the cold start: ${JSON.stringify(per)} per host; statuses `
    + `${JSON.stringify(answers.map((a) => a.status))}`);
  t.diagnostic(`IdP requests since the cold start: ${fetched.join(', ') || 'none'}`);
  for (const a of answers.filter((x) => x.status !== 200)) t.diagnostic(`refused at ${a.host}: ${a.status} ${a.www ?? ''} ${a.body.slice(0, 200)}`);
  assert.deepEqual(answers.map((a) => a.status), Array(N).fill(200), 'every request with a valid token succeeds');
  assert.ok(per.gw1 > 0 && per.gw2 > 0, 'the requests were split over both hosts');
  assert.equal(delta(JWKS_PATH), 1, 'the IdP\'s key set was fetched exactly once for the whole fleet');
});

test('a graceful restart of one host in the middle of a login loses nothing', async (t) => {
  const log = [];
  let restarted;
  let restartedAt;
  let pids;
  const pidOf = (host) => fs.readFileSync(path.join(STATE, host, 'run', 'httpd.pid'), 'utf8').trim();
  // the browser, back from the IdP and about to load the callback: the host that started this
  // login (answered authorize) restarts gracefully first
  const browser = async (input, init = {}) => {
    const url = String(input instanceof Request ? input.url : input);
    if (!restarted && url.startsWith(`${FRONT}${ENDPOINT('callback')}`)) {
      restarted = gatewayOf(step(log, 'authorize'));
      const pid = pidOf(restarted);
      t.diagnostic(`graceful restart of ${restarted} (parent pid ${pid}) before the callback`);
      await fleetCtl('graceful', restarted);
      pids = [pid, pidOf(restarted)];
      restartedAt = log.length - 1; // the callback's entry: everything from it on is after the restart
    }
    return fetch(input, init);
  };
  let client;
  try {
    const started = await startLogin(log, 'fleet graceful client');
    await finishLogin(log, started, 'fleet-gus', browser);
    assert.ok(restarted === 'gw1' || restarted === 'gw2', 'a host was restarted during the login');
    assert.equal(pids[1], pids[0], 'gracefully: the same parent process, a new generation');
    client = await open(MCP_URL, started.provider, log);
    assert.equal((await whoami(client)).remoteUser, 'fleet-gus', 'the login completed');
    assert.equal(resultText(await client.callTool({ name: 'echo', arguments: { text: 'after the restart' } })), 'after the restart');
    const after = log.slice(restartedAt);
    assert.ok(after.some((e) => gatewayOf(e) === restarted && e.status < 400),
      `the restarted host (${restarted}) answered steps of the login after its restart`);
    assert.ok(after.filter((e) => e.url.startsWith(FRONT)).every((e) => e.status < 500), 'no step failed on the server side');
  } finally {
    printHosts(t, `the login with a graceful restart of ${restarted ?? '?'} (before entry ${restartedAt === undefined ? '?' : restartedAt + 1})`, log);
    await client?.close().catch(() => {});
  }
});

test('token exchange across the fleet: requests landing on both hosts get the token one host traded, one exchange in all; the SDK 2.x server verifies it and never sees the client\'s', async (t) => {
  const token = await idpToken('fleet-xena', `${FRONT}/exchange`);
  const clientHash = crypto.createHash('sha256').update(token).digest('hex');
  const grant = 'grant:urn:ietf:params:oauth:grant-type:token-exchange';
  const before = (await idpHits())[grant] ?? 0;
  const provider = new MemoryOAuthProvider();
  provider.saveTokens({ access_token: token, token_type: 'Bearer' });
  const log = [];
  const client = await open(`${FRONT}/exchange`, provider, log);
  try {
    const seen = [];
    for (let i = 0; i < 6; i += 1) {
      seen.push(JSON.parse(resultText(await client.callTool({ name: 'upstream_token', arguments: {} }))));
    }
    const hosts = new Set(log.filter((e) => e.rpc === 'tools/call').map((e) => e.host));
    assert.deepEqual([...hosts].sort(), ['gw1', 'gw2'], 'the calls landed on both hosts');
    for (const s of seen) {
      assert.equal(s.aud, 'https://tickets.example.test', 'a token for the server\'s own audience');
      assert.equal(s.sub, 'fleet-xena', 'the user\'s subject');
      assert.deepEqual(s.act, { sub: 'mcp-exchanger' }, 'act names the gateway');
      assert.notEqual(s.tokenSha256, clientHash, 'never the client\'s token');
    }
    assert.equal(new Set(seen.map((s) => s.tokenSha256)).size, 1, 'one exchanged token for all the calls');
    assert.equal(((await idpHits())[grant] ?? 0) - before, 1, 'one exchange at the IdP for both hosts');
  } finally {
    printHosts(t, 'the exchanging calls', log);
    await client.close().catch(() => {});
  }
});
