// The MCPAuthClientID mode (one client registered at the IdP stands for every MCP client), with
// real SDK clients: the gateway asks the user to approve each MCP client on its own consent page
// before the IdP sees the login (MCP spec, "Confused Deputy Problem"), remembers an approval per
// browser and client, and returns access_denied on Deny. A Client ID Metadata Document client
// (SDK 2.x with an https clientMetadataUrl, served here over https on loopback) logs in the same
// way without registering.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import {
  CookieJar, MemoryOAuthProvider, connectWithOAuth, disconnect, printLog, resultText,
} from './client.mjs';
import { sdk2Login, sdk2Connect, claimsOf } from './sdk2.mjs';
import {
  ISSUER, STATIC_MCP_URL, STATIC_AUTHORIZE_URL, STATIC_TOKEN_URL, STATIC_CALLBACK_URL, STATIC_REGISTER_URL,
  CIMD_CA, CIMD_KEY, GW3_MCP_URL, GW3_AS_URL, GW3_REGISTER_URL, GW3_TOKEN_URL,
} from './testenv.mjs';

const consentShown = (log) => log.some((e) => e.via !== 'sdk' && e.method === 'GET'
  && e.url.startsWith(STATIC_AUTHORIZE_URL) && e.status === 200);

test('SDK 2.x, MCPAuthClientID: consent page, approve, IdP login, tools, refresh; the approval is remembered', async (t) => {
  const log = [];
  const provider = new MemoryOAuthProvider({ clientName: 'Consent E2E Client' });
  const jar = new CookieJar();
  let client;
  try {
    const result = await sdk2Login(STATIC_MCP_URL, provider, log, { jar });
    assert.equal(result.error, undefined, `${result.error} ${result.error_description}`);
    assert.equal(result.consentPages.length, 1, 'one consent page of the gateway');
    assert.match(result.consentPages[0].text, /Consent E2E Client/, 'the page names the client');
    assert.match(result.consentPages[0].text, /127\.0\.0\.1/, 'the page names its redirect host');
    assert.match(result.consentPages[0].text, /mcp:tools/, 'the page names the scopes');
    assert.ok(log.some((e) => e.method === 'POST' && e.url === STATIC_REGISTER_URL && e.status === 201),
      'registered at the gateway (nothing asked of the IdP)');
    assert.ok(log.some((e) => e.via === 'browser' && e.method === 'POST' && e.url.startsWith(STATIC_AUTHORIZE_URL)
      && e.status === 302 && e.location?.startsWith(ISSUER)), 'Approve sends the browser to the IdP');
    assert.ok(log.some((e) => e.url.startsWith(STATIC_CALLBACK_URL) && e.status === 302), 'the IdP answered at the callback');
    assert.equal(result.iss, STATIC_MCP_URL, 'RFC 9207: iss is the gateway');

    client = await sdk2Connect(STATIC_MCP_URL, provider, log);
    const claims = claimsOf(provider.tokens().access_token);
    assert.equal(claims.iss, ISSUER);
    assert.equal(claims.aud, STATIC_MCP_URL);
    assert.equal(claims.azp, 'mcp-gateway', 'the IdP issued it to the static client');
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((x) => x.name).sort(), ['echo', 'progress', 'whoami']);
    assert.equal(resultText(await client.callTool({ name: 'echo', arguments: { text: 'consented' } })), 'consented');
    assert.equal(JSON.parse(resultText(await client.callTool({ name: 'whoami', arguments: {} }))).remoteUser, 'cora');

    // a rejected access token: refreshed through the gateway as the static client
    await client.close().catch(() => {});
    provider.saveTokens({ ...provider.tokens(), access_token: 'revoked-or-garbage' });
    const logins = provider.authorizationCount;
    client = await sdk2Connect(STATIC_MCP_URL, provider, log);
    assert.equal(provider.authorizationCount, logins, 'no new login');
    assert.ok(log.some((e) => e.grantType === 'refresh_token' && e.url === STATIC_TOKEN_URL && e.status === 200),
      'refresh grant through the gateway');
    assert.equal(JSON.parse(resultText(await client.callTool({ name: 'whoami', arguments: {} }))).remoteUser, 'cora');
    await client.close().catch(() => {});

    // the same browser logs the same client in again: no second consent page
    provider.saveTokens(undefined);
    const again = [];
    const second = await sdk2Login(STATIC_MCP_URL, provider, again, { jar });
    assert.equal(second.error, undefined, `${second.error} ${second.error_description}`);
    assert.equal(second.consentPages.length, 0, 'approval remembered for this browser and client');
    assert.ok(!consentShown(again));
    client = await sdk2Connect(STATIC_MCP_URL, provider, again);
    await client.listTools();
    printLog(t, 'SDK 2.x, MCPAuthClientID, second login in the same browser', again);
  } finally {
    printLog(t, 'SDK 2.x, MCPAuthClientID (consent)', log);
    await client?.close().catch(() => {});
  }
});

test('SDK 2.x, MCPAuthClientID: Deny returns access_denied to the client, the IdP never sees the login', async (t) => {
  const log = [];
  const provider = new MemoryOAuthProvider({ clientName: 'Denied E2E Client' });
  try {
    const result = await sdk2Login(STATIC_MCP_URL, provider, log, { consent: 'deny' });
    assert.equal(result.error, 'access_denied');
    assert.equal(result.state, provider.expectedState, 'the client\'s own state comes back');
    assert.equal(result.consentPages.length, 1);
    assert.ok(!log.some((e) => e.url.startsWith(ISSUER)), 'no request reached the IdP');
    assert.equal(provider.tokens(), undefined, 'no tokens');
  } finally {
    printLog(t, 'SDK 2.x, MCPAuthClientID, Deny', log);
  }
});

test('SDK 1.x, MCPAuthClientID: consent, login, tools', async (t) => {
  const c = await connectWithOAuth(STATIC_MCP_URL, { username: 'olly' });
  try {
    assert.ok(consentShown(c.log),
      'the gateway asked for consent');
    const { tools } = await c.client.listTools();
    assert.ok(tools.some((x) => x.name === 'whoami'));
    assert.equal(JSON.parse(resultText(await c.client.callTool({ name: 'whoami', arguments: {} }))).remoteUser, 'olly');
  } finally {
    printLog(t, 'SDK 1.x, MCPAuthClientID (consent)', c.log);
    await disconnect(c);
  }
});

// ---- a CIMD client: its client id is the https URL of its metadata document ----------------
let cimd;
let cimdUrl;
let cimdFetches = 0;
const hanging = new Set();
before(async () => {
  cimd = https.createServer({ key: fs.readFileSync(CIMD_KEY), cert: fs.readFileSync(CIMD_CA) }, (req, res) => {
    if (req.url.startsWith('/slow/')) {
      hanging.add(res); // never answers: a client naming a server that holds the gateway's fetch
      return;
    }
    const name = { '/clients/e2e.json': 'CIMD E2E Client', '/clients/kc-1.json': 'CIMD Keycloak One',
      '/clients/kc-2.json': 'CIMD Keycloak Two' }[req.url];
    if (!name) {
      res.writeHead(404).end();
      return;
    }
    cimdFetches += 1;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
    res.end(JSON.stringify({
      client_id: new URL(req.url, cimdUrl).href,
      client_name: name,
      client_uri: 'https://app.example/',
      redirect_uris: ['http://127.0.0.1:33418/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    }));
  });
  await new Promise((resolve) => { cimd.listen(0, '127.0.0.1', resolve); });
  cimdUrl = `https://127.0.0.1:${cimd.address().port}/clients/e2e.json`;
});
after(() => new Promise((resolve) => {
  for (const res of hanging) res.destroy();
  cimd?.closeAllConnections?.();
  cimd?.close(resolve);
}));

test('SDK 2.x with a Client ID Metadata Document (https on loopback): no registration, consent naming the URL, tools', async (t) => {
  const log = [];
  const provider = new MemoryOAuthProvider({ clientName: 'CIMD E2E Client', clientMetadataUrl: cimdUrl });
  let client;
  try {
    const result = await sdk2Login(STATIC_MCP_URL, provider, log, { username: 'cid' });
    assert.equal(result.error, undefined, `${result.error} ${result.error_description}`);
    assert.ok(!log.some((e) => e.url === STATIC_REGISTER_URL), 'no registration request');
    const authorize = new URL(provider.authorizationUrl);
    assert.equal(authorize.searchParams.get('client_id'), cimdUrl, 'the client id is the document URL');
    assert.equal(result.consentPages.length, 1);
    assert.ok(result.consentPages[0].text.includes(cimdUrl), 'the consent page names the document URL');
    assert.match(result.consentPages[0].text, /CIMD E2E Client/);
    assert.ok(cimdFetches >= 1, 'the gateway fetched the document');
    client = await sdk2Connect(STATIC_MCP_URL, provider, log);
    assert.equal(JSON.parse(resultText(await client.callTool({ name: 'whoami', arguments: {} }))).remoteUser, 'cid');
    const fetched = cimdFetches;
    provider.saveTokens({ ...provider.tokens(), access_token: 'revoked-or-garbage' });
    await client.close().catch(() => {});
    client = await sdk2Connect(STATIC_MCP_URL, provider, log);
    assert.ok(log.some((e) => e.grantType === 'refresh_token' && e.url === STATIC_TOKEN_URL && e.status === 200), 'refresh');
    // each process keeps the documents it fetched (Cache-Control: max-age=300); anonymous requests
    // never write client documents into the shared cache
    assert.ok(cimdFetches - fetched <= 1, `the refresh fetched the document at most once (${cimdFetches - fetched})`);
  } finally {
    printLog(t, 'SDK 2.x, CIMD client on https://127.0.0.1', log);
    await client?.close().catch(() => {});
  }
});

// MCP 2026-07-28 prefers metadata documents to registration: where the IdP registers clients
// (Keycloak mode, no MCPAuthClientID) the gateway registers one client of its own there, once,
// and every metadata-document client logs in through it, each approved on the consent page.
test('SDK 2.x CIMD clients in Keycloak mode (no MCPAuthClientID): the gateway\'s own IdP client, registered once; consent; tools', async (t) => {
  const hits = async () => (await (await fetch(new URL('/_hits', ISSUER).href)).json());
  const registrations = async () => Object.entries(await hits())
    .filter(([path]) => path.endsWith('/clients-registrations/openid-connect')).reduce((n, [, c]) => n + c, 0);
  const meta = await (await fetch(GW3_AS_URL)).json();
  assert.equal(meta.client_id_metadata_document_supported, true, 'the gateway advertises CIMD there');
  const before = await registrations();
  for (const [doc, user] of [['kc-1', 'cid'], ['kc-2', 'cora']]) {
    const log = [];
    const url = new URL(`/clients/${doc}.json`, cimdUrl).href;
    const provider = new MemoryOAuthProvider({ clientName: doc, clientMetadataUrl: url });
    let client;
    try {
      const result = await sdk2Login(GW3_MCP_URL, provider, log, { username: user });
      assert.equal(result.error, undefined, `${result.error} ${result.error_description}`);
      assert.ok(!log.some((e) => e.url === GW3_REGISTER_URL), `${doc}: the client did not register`);
      assert.equal(new URL(provider.authorizationUrl).searchParams.get('client_id'), url, `${doc}: its client id is its URL`);
      assert.equal(result.consentPages.length, 1, `${doc}: approved on the gateway's consent page (one IdP client for many)`);
      assert.ok(result.consentPages[0].text.includes(url), `${doc}: the page names the document URL`);
      client = await sdk2Connect(GW3_MCP_URL, provider, log);
      assert.equal(JSON.parse(resultText(await client.callTool({ name: 'whoami', arguments: {} }))).remoteUser, user);
      provider.saveTokens({ ...provider.tokens(), access_token: 'revoked-or-garbage' });
      await client.close().catch(() => {});
      client = await sdk2Connect(GW3_MCP_URL, provider, log);
      assert.ok(log.some((e) => e.grantType === 'refresh_token' && e.url === GW3_TOKEN_URL && e.status === 200),
        `${doc}: refreshed through the gateway`);
    } finally {
      printLog(t, `SDK 2.x, CIMD client ${doc} in Keycloak mode`, log);
      await client?.close().catch(() => {});
    }
  }
  assert.equal(await registrations() - before, 1, 'the gateway registered one client of its own at the IdP for both');
});

test('CIMD lookups are bounded: documents that never come hold at most 8 threads a process, the rest are refused at once', async (t) => {
  const base = new URL(cimdUrl).origin;
  const started = Date.now();
  const answers = await Promise.all(Array.from({ length: 40 }, async (_, i) => {
    const q = new URLSearchParams({
      response_type: 'code', client_id: `${base}/slow/${i}.json`, redirect_uri: 'http://127.0.0.1:33418/callback',
      state: 's', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256',
    });
    const res = await fetch(`${STATIC_AUTHORIZE_URL}?${q}`, { redirect: 'manual' });
    const body = await res.json().catch(() => ({}));
    return { status: res.status, error: body.error, description: body.error_description ?? '', ms: Date.now() - started };
  }));
  const refused = answers.filter((a) => /too many client metadata documents/.test(a.description));
  const timedOut = answers.filter((a) => /cannot be fetched/.test(a.description));
  t.diagnostic(`40 lookups: ${refused.length} refused at once, ${timedOut.length} gave up on the server; `
    + `slowest answer after ${Math.max(...answers.map((a) => a.ms))} ms`);
  assert.ok(answers.every((a) => a.status === 400 && a.error === 'invalid_client'), JSON.stringify(answers));
  assert.equal(refused.length + timedOut.length, 40, 'each one refused or given up');
  assert.ok(refused.length >= 8, 'at most 8 lookups a process (4 processes at most here): the rest refused');
  assert.ok(Math.min(...refused.map((a) => a.ms)) < Math.min(...timedOut.map((a) => a.ms)), 'refusals come first');
  assert.ok(timedOut.length >= 1, 'the ones let through were cut off by the fetch timeout');
});
