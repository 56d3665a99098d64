// The whole MCP authorization flow with the MCP TypeScript SDK client, through the gateway.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  connectWithOAuth, disconnect, formatLog, resultText, MemoryOAuthProvider, closeAfterwards, printLog, pathOf,
} from './client.mjs';
import {
  ISSUER, MCP_URL, MCP_JSON_URL, PRM_URL, PRM_JSON_URL, GW2_MCP_URL, GW2_PRM_URL,
  postInitialize, parseChallenge,
} from './testenv.mjs';

const open = closeAfterwards(after);
const path = pathOf;
const idx = (log, pred, from = 0) => log.findIndex((e, i) => i >= from && pred(e));

function assertFlow(log, { mcpUrl, prmUrl }) {
  const mcpPath = new URL(mcpUrl).pathname;
  const gw = new URL(mcpUrl).origin;
  const issuerPath = new URL(ISSUER).pathname;
  let i = idx(log, (e) => e.method === 'POST' && e.url === mcpUrl);
  assert.equal(i, 0, 'the first request is the POST to the MCP endpoint');
  assert.equal(log[0].status, 401);
  assert.equal(parseChallenge(log[0].wwwAuthenticate).params.resource_metadata, prmUrl);
  i = idx(log, (e) => e.url.startsWith(gw) && path(e).startsWith('/.well-known/'), 1);
  assert.equal(log[i].url, prmUrl, 'the SDK fetched exactly the resource_metadata URL');
  assert.equal(log[i].status, 200);
  i = idx(log, (e) => path(e) === `${issuerPath}/.well-known/openid-configuration`, i);
  assert.ok(i > 0 && log[i].status === 200, 'OpenID discovery at the IdP');
  i = idx(log, (e) => e.method === 'POST' && path(e).endsWith('/clients-registrations/openid-connect'), i);
  assert.ok(i > 0 && log[i].status === 201, 'dynamic client registration');
  i = idx(log, (e) => e.via === 'login' && path(e).endsWith('/protocol/openid-connect/auth'), i);
  assert.ok(i > 0, 'authorization request');
  i = idx(log, (e) => e.grantType === 'authorization_code', i);
  assert.ok(i > 0 && log[i].status === 200, 'token request');
  i = idx(log, (e) => e.method === 'POST' && e.url === mcpUrl && e.rpc === 'initialize', i);
  assert.ok(i > 0 && log[i].status === 200, 'initialize with the token');
  assert.ok(log.slice(i).every((e) => !e.url.startsWith(gw) || !path(e).startsWith(mcpPath) || e.status !== 401),
    'no 401 from the MCP endpoint after authorization');
}

function authorizationParams(provider) {
  return provider.authorizationUrl.searchParams;
}

async function whoami(client) {
  return JSON.parse(resultText(await client.callTool({ name: 'whoami', arguments: {} })));
}

let sse; // alice on /mcp
let json; // bob on /mcp-json

test('SDK client: full OAuth flow through the gateway, SSE responses', async (t) => {
  sse = await connectWithOAuth(MCP_URL, { username: 'alice' });
  open.push(sse);
  printLog(t, 'SSE', sse.log);
  assertFlow(sse.log, { mcpUrl: MCP_URL, prmUrl: PRM_URL });

  const ap = authorizationParams(sse.provider);
  assert.equal(ap.get('resource'), MCP_URL, 'resource = PRM resource');
  assert.equal(ap.get('code_challenge_method'), 'S256');
  assert.ok(ap.get('scope')?.split(' ').includes('mcp:tools'), `scope: ${ap.get('scope')}`);
  assert.equal(sse.authorization.iss, ISSUER, 'RFC 9207 iss in the authorization response');

  const tokens = sse.provider.tokens();
  const claims = JSON.parse(Buffer.from(tokens.access_token.split('.')[1], 'base64url'));
  assert.equal(claims.aud, MCP_URL);
  assert.equal(claims.iss, ISSUER);
  assert.equal(claims.sub, 'alice');
  assert.ok(tokens.refresh_token, 'a refresh token');

  const { tools } = await sse.client.listTools();
  assert.deepEqual(tools.map((x) => x.name).sort(), ['echo', 'progress', 'whoami']);
  assert.equal(resultText(await sse.client.callTool({ name: 'echo', arguments: { text: 'hello via SSE' } })), 'hello via SSE');
  const me = await whoami(sse.client);
  assert.equal(me.remoteUser, 'alice', 'sub arrives as X-Remote-User');
  assert.equal(me.authorizationReceived, false, 'the Authorization header does not reach the MCP server');
});

test('SDK client: full OAuth flow through the gateway, JSON responses', async (t) => {
  json = await connectWithOAuth(MCP_JSON_URL, { username: 'bob' });
  open.push(json);
  printLog(t, 'JSON', json.log);
  assertFlow(json.log, { mcpUrl: MCP_JSON_URL, prmUrl: PRM_JSON_URL });
  assert.equal(authorizationParams(json.provider).get('resource'), MCP_JSON_URL);

  const { tools } = await json.client.listTools();
  assert.deepEqual(tools.map((x) => x.name).sort(), ['echo', 'progress', 'whoami']);
  assert.equal(resultText(await json.client.callTool({ name: 'echo', arguments: { text: 'hello via JSON' } })), 'hello via JSON');
  const me = await whoami(json.client);
  assert.equal(me.remoteUser, 'bob');
  assert.equal(me.authorizationReceived, false);
});

test('SSE is streamed through the gateway, not buffered', async () => {
  assert.ok(sse, 'the SSE flow ran');
  const started = Date.now();
  const seen = [];
  const result = await sse.client.callTool(
    { name: 'progress', arguments: { steps: 3, delayMs: 300 } },
    undefined,
    { onprogress: (p) => seen.push({ progress: p.progress, at: Date.now() - started }) },
  );
  const total = Date.now() - started;
  assert.equal(resultText(result), 'done after 3 steps');
  assert.deepEqual(seen.map((x) => x.progress), [1, 2, 3]);
  assert.ok(seen[0].at < total - 500, `first progress at ${seen[0].at} ms, result at ${total} ms`);
});

test('a real IdP token is bound to its own resource (audience)', async () => {
  assert.ok(sse && json, 'both flows ran');
  let r = await postInitialize(MCP_URL, json.provider.tokens().access_token);
  assert.equal(r.res.status, 401, 'token for /mcp-json presented to /mcp');
  assert.equal(parseChallenge(r.res.headers.get('www-authenticate')).params.error, 'invalid_token');
  r = await postInitialize(MCP_JSON_URL, sse.provider.tokens().access_token);
  assert.equal(r.res.status, 401, 'token for /mcp presented to /mcp-json');
  r = await postInitialize(MCP_URL, sse.provider.tokens().access_token);
  assert.equal(r.res.status, 200, 'and accepted where it belongs');
});

test('rejected access token: the SDK refreshes it and reconnects without a new login', async (t) => {
  assert.ok(sse, 'the SSE flow ran');
  const provider = sse.provider;
  const before = provider.authorizationCount;
  provider.saveTokens({ ...provider.tokens(), access_token: 'revoked-or-garbage' });
  const again = await connectWithOAuth(MCP_URL, { provider });
  open.push(again);
  printLog(t, 'refresh', again.log);
  assert.equal(provider.authorizationCount, before, 'no new authorization request');
  assert.equal(again.log[0].status, 401);
  assert.equal(parseChallenge(again.log[0].wwwAuthenticate).params.error, 'invalid_token');
  assert.ok(again.log.some((e) => e.grantType === 'refresh_token' && e.status === 200), 'refresh grant');
  assert.notEqual(provider.tokens().access_token, 'revoked-or-garbage');
  const me = await whoami(again.client);
  assert.equal(me.remoteUser, 'alice');
});

test('a client-supplied X-Remote-User header is replaced by the gateway', async () => {
  const c = await connectWithOAuth(MCP_URL, {
    username: 'carol', provider: new MemoryOAuthProvider(), headers: { 'X-Remote-User': 'mallory' },
  });
  open.push(c);
  const me = await whoami(c.client);
  assert.equal(me.remoteUser, 'carol');
  assert.equal(me.authorizationReceived, false);
});

test('MCP session can be ended with DELETE through the gateway', async () => {
  const c = await connectWithOAuth(MCP_URL, { username: 'dave' });
  const sid = c.transport.sessionId;
  assert.ok(sid, 'a session id');
  await c.transport.terminateSession();
  const del = c.log.find((e) => e.method === 'DELETE');
  assert.ok(del, 'a DELETE request');
  assert.equal(del.status, 200);
  await c.client.close();
});

test('SDK client: full flow on a location with all defaults, user from preferred_username', async (t) => {
  const c = await connectWithOAuth(GW2_MCP_URL, { username: 'erin' });
  open.push(c);
  printLog(t, 'defaults', c.log);
  assertFlow(c.log, { mcpUrl: GW2_MCP_URL, prmUrl: GW2_PRM_URL });
  assert.equal(authorizationParams(c.provider).get('resource'), GW2_MCP_URL);
  const me = await whoami(c.client);
  assert.equal(me.remoteUser, 'erin');
  assert.equal(me.authorizationReceived, false);
});
