// Raw HTTP checks of the gateway: challenges, protected-resource metadata, token validation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  GW, ISSUER, MCP_URL, MCP_JSON_URL, PRM_URL, PRM_JSON_URL, PRM_ROOT_URL,
  GW2_MCP_URL, GW2_PRM_URL, GW2_PRM_ROOT_URL,
  postInitialize, parseChallenge, mintToken, idpPublicPem, idpKid, foreignKey,
} from './testenv.mjs';

const now = () => Math.floor(Date.now() / 1000);

function assertChallenge(res, { prm = PRM_URL, error } = {}) {
  assert.equal(res.status, 401, 'status');
  const header = res.headers.get('www-authenticate');
  assert.ok(header, 'a WWW-Authenticate header');
  assert.ok(header.startsWith('Bearer '), `single Bearer challenge, got: ${header}`);
  const { params } = parseChallenge(header);
  assert.equal(params.resource_metadata, prm, `resource_metadata in: ${header}`);
  if (error) assert.equal(params.error, error, `error in: ${header}`);
  else assert.equal(params.error, undefined, `no error parameter without a token, got: ${header}`);
  if (params.scope) assert.ok(!params.scope.split(' ').includes('offline_access'), 'no offline_access in scope');
  return params;
}

async function rejects(token, what) {
  const { res } = await postInitialize(MCP_URL, token);
  assertChallenge(res, { error: 'invalid_token' });
  assert.ok(what);
}

test('POST /mcp without a token: 401 with a Bearer challenge naming the PRM', async () => {
  const { res } = await postInitialize(MCP_URL);
  assertChallenge(res);
});

test('GET /mcp without a token: 401 with the challenge', async () => {
  const res = await fetch(MCP_URL, { headers: { accept: 'text/event-stream' } });
  await res.arrayBuffer();
  assertChallenge(res);
});

test('POST /mcp-json without a token: 401 naming its own PRM', async () => {
  const { res } = await postInitialize(MCP_JSON_URL);
  assertChallenge(res, { prm: PRM_JSON_URL });
});

test('garbage bearer token: 401 with error="invalid_token"', async () => {
  const { res } = await postInitialize(MCP_URL, 'garbage');
  assertChallenge(res, { error: 'invalid_token' });
});

test('non-Bearer Authorization (Basic): 401 with the challenge', async () => {
  const res = await fetch(MCP_URL, {
    method: 'POST',
    headers: { authorization: 'Basic YWxpY2U6c2VjcmV0', 'content-type': 'application/json' },
    body: '{}',
  });
  await res.arrayBuffer();
  assert.equal(res.status, 401);
  assert.ok(res.headers.get('www-authenticate')?.startsWith('Bearer '));
});

test('protected resource metadata at /.well-known/oauth-protected-resource/mcp', async () => {
  const res = await fetch(PRM_URL);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const doc = await res.json();
  assert.equal(doc.resource, MCP_URL);
  assert.deepEqual(doc.authorization_servers, [ISSUER]);
  assert.ok(Array.isArray(doc.scopes_supported), 'scopes_supported');
  assert.ok(doc.scopes_supported.includes('mcp:tools'), 'scopes_supported has mcp:tools');
  assert.ok(!doc.scopes_supported.includes('offline_access'), 'no offline_access');
  if (doc.bearer_methods_supported !== undefined) assert.deepEqual(doc.bearer_methods_supported, ['header']);
});

test('PRM of the second location /mcp-json', async () => {
  const res = await fetch(PRM_JSON_URL);
  assert.equal(res.status, 200);
  const doc = await res.json();
  assert.equal(doc.resource, MCP_JSON_URL);
  assert.deepEqual(doc.authorization_servers, [ISSUER]);
});

test('PRM tolerates the query string the SDK appends', async () => {
  const res = await fetch(`${PRM_URL}?x=1`);
  assert.equal(res.status, 200);
  const doc = await res.json();
  assert.equal(doc.resource, MCP_URL);
});

test('PRM root form on a host with two protected locations: no wrong answer', async () => {
  const res = await fetch(PRM_ROOT_URL);
  const text = await res.text();
  assert.ok(res.status === 200 || res.status === 404, `status ${res.status}`);
  if (res.status === 200) {
    const doc = JSON.parse(text);
    assert.ok([MCP_URL, MCP_JSON_URL].includes(doc.resource), `resource: ${doc.resource}`);
  }
});

test('PRM root form on a host with one protected location (all defaults)', async () => {
  const res = await fetch(GW2_PRM_ROOT_URL);
  assert.equal(res.status, 200);
  const doc = await res.json();
  assert.equal(doc.resource, GW2_MCP_URL, 'default resource = external URL of the location');
  assert.deepEqual(doc.authorization_servers, [ISSUER]);
});

test('PRM path form and challenge on the host with defaults', async () => {
  const res = await fetch(GW2_PRM_URL);
  assert.equal(res.status, 200);
  assert.equal((await res.json()).resource, GW2_MCP_URL);
  const { res: r401 } = await postInitialize(GW2_MCP_URL);
  assertChallenge(r401, { prm: GW2_PRM_URL });
});

test('a token for one virtual host is not accepted by the other', async () => {
  await rejects(await mintToken({ aud: GW2_MCP_URL }), 'aud of the other host');
  const { res } = await postInitialize(GW2_MCP_URL, await mintToken({ aud: MCP_URL }));
  assertChallenge(res, { prm: GW2_PRM_URL, error: 'invalid_token' });
});

test('PRM of an unknown path: not a 200 metadata document', async () => {
  const res = await fetch(`${GW}/.well-known/oauth-protected-resource/nothing-here`);
  await res.arrayBuffer();
  assert.notEqual(res.status, 200);
});

test('valid token (signed with the IdP key) reaches the MCP server', async () => {
  const token = await mintToken();
  const { res, body } = await postInitialize(MCP_URL, token);
  assert.equal(res.status, 200, body);
  assert.ok(res.headers.get('mcp-session-id'), 'Mcp-Session-Id from the MCP server');
  assert.match(body, /"protocolVersion"/);
});

test('valid token, JSON-response location', async () => {
  const token = await mintToken({ aud: MCP_JSON_URL });
  const { res, body } = await postInitialize(MCP_JSON_URL, token);
  assert.equal(res.status, 200, body);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(JSON.parse(body).result.serverInfo.name, 'mod-mcp-auth-sample');
});

test('Keycloak-style token (typ JWT, aud array) is accepted', async () => {
  const token = await mintToken({ typ: 'JWT', aud: ['account', MCP_URL] });
  const { res, body } = await postInitialize(MCP_URL, token);
  assert.equal(res.status, 200, body);
});

test('expired token: 401 invalid_token', async () => {
  await rejects(await mintToken({ exp: now() - 600 }), 'expired');
});

test('token not yet valid (nbf in the future): 401 invalid_token', async () => {
  await rejects(await mintToken({ nbf: now() + 600 }), 'nbf');
});

test('token without exp: 401 invalid_token', async () => {
  await rejects(await mintToken({ omit: ['exp'] }), 'no exp');
});

test('token for another audience: 401 invalid_token', async () => {
  await rejects(await mintToken({ aud: 'http://127.0.0.1:1/other' }), 'aud');
});

test('token for the other location (audience binding per location): 401 invalid_token', async () => {
  await rejects(await mintToken({ aud: MCP_JSON_URL }), 'aud other location');
});

test('token without aud: 401 invalid_token', async () => {
  await rejects(await mintToken({ omit: ['aud'] }), 'no aud');
});

test('token from another issuer: 401 invalid_token', async () => {
  await rejects(await mintToken({ iss: 'http://127.0.0.1:1/realms/evil' }), 'iss');
});

test('token signed by an unknown key: 401 invalid_token', async () => {
  await rejects(await mintToken({ key: foreignKey() }), 'foreign key');
});

test('token signed by an unknown key that claims the IdP kid: 401 invalid_token', async () => {
  await rejects(await mintToken({ key: foreignKey(), kid: idpKid() }), 'foreign key, IdP kid');
});

test('unsigned token (alg none): 401 invalid_token', async () => {
  await rejects(await mintToken({ alg: 'none' }), 'alg none');
});

test('HS256 token keyed with the IdP public key (algorithm confusion): 401 invalid_token', async () => {
  await rejects(await mintToken({ alg: 'HS256', key: new TextEncoder().encode(idpPublicPem()) }), 'hs256');
});

test('token with a tampered payload: 401 invalid_token', async () => {
  const token = await mintToken({ sub: 'alice' });
  const [h, p, s] = token.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url'));
  claims.sub = 'admin';
  const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
  await rejects(forged, 'tampered');
});

test('token in the query string is not accepted', async () => {
  const token = await mintToken();
  const res = await fetch(`${MCP_URL}?access_token=${encodeURIComponent(token)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  });
  await res.arrayBuffer();
  assert.equal(res.status, 401);
});

// CORS for browser-based MCP clients: /mcp has MCPAuthCORSOrigins http://localhost:6274 (the MCP
// Inspector's UI origin); /mcp-json has no MCPAuthCORSOrigins (CORS off on the MCP endpoint).
const INSPECTOR_ORIGIN = 'http://localhost:6274';
const has = (list, item) => (list ?? '').toLowerCase().split(/\s*,\s*/).includes(item.toLowerCase());

function preflight(url, origin) {
  return fetch(url, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization, content-type, mcp-protocol-version',
    },
  });
}

test('CORS preflight on /mcp is answered without a token', async () => {
  const res = await preflight(MCP_URL, INSPECTOR_ORIGIN);
  await res.arrayBuffer();
  assert.equal(res.status, 204);
  assert.equal(res.headers.get('access-control-allow-origin'), INSPECTOR_ORIGIN);
  assert.ok(has(res.headers.get('vary'), 'origin'), `Vary: ${res.headers.get('vary')}`);
  const allowed = res.headers.get('access-control-allow-headers');
  for (const h of ['authorization', 'content-type', 'mcp-protocol-version', 'mcp-session-id', 'last-event-id']) {
    assert.ok(has(allowed, h), `allows ${h}: ${allowed}`);
  }
  for (const m of ['GET', 'POST', 'DELETE']) assert.ok(has(res.headers.get('access-control-allow-methods'), m), `method ${m}`);
  assert.equal(res.headers.get('www-authenticate'), null, 'no challenge on a preflight');
});

test('a 401 to a cross-origin request exposes WWW-Authenticate', async () => {
  const { res } = await postInitialize(MCP_URL, undefined, { origin: INSPECTOR_ORIGIN });
  assert.equal(res.status, 401);
  assert.equal(res.headers.get('access-control-allow-origin'), INSPECTOR_ORIGIN);
  const exposed = res.headers.get('access-control-expose-headers');
  assert.ok(has(exposed, 'www-authenticate'), `exposed: ${exposed}`);
  assert.ok(has(exposed, 'mcp-session-id'), `exposed: ${exposed}`);
  assertChallenge(res);
});

test('CORS: a valid cross-origin call gets the origin and Mcp-Session-Id exposed', async () => {
  const { res, body } = await postInitialize(MCP_URL, await mintToken(), { origin: INSPECTOR_ORIGIN });
  assert.equal(res.status, 200, body);
  assert.equal(res.headers.get('access-control-allow-origin'), INSPECTOR_ORIGIN);
  assert.ok(has(res.headers.get('access-control-expose-headers'), 'mcp-session-id'));
});

test('CORS: an origin that is not listed gets no Access-Control-Allow-Origin', async () => {
  for (const origin of ['http://evil.example', 'http://localhost:6275', 'http://127.0.0.1:6274']) {
    const res = await preflight(MCP_URL, origin);
    await res.arrayBuffer();
    assert.equal(res.headers.get('access-control-allow-origin'), null, `preflight from ${origin}`);
    const { res: r401 } = await postInitialize(MCP_URL, undefined, { origin });
    assert.equal(r401.status, 401);
    assert.equal(r401.headers.get('access-control-allow-origin'), null, `401 to ${origin}`);
  }
});

test('CORS: off on a location without MCPAuthCORSOrigins, discovery still open to any origin', async () => {
  const res = await preflight(MCP_JSON_URL, INSPECTOR_ORIGIN);
  await res.arrayBuffer();
  assert.equal(res.status, 204, 'the preflight is not authenticated');
  assert.equal(res.headers.get('access-control-allow-origin'), null);
  const { res: r401 } = await postInitialize(MCP_JSON_URL, undefined, { origin: INSPECTOR_ORIGIN });
  assert.equal(r401.headers.get('access-control-allow-origin'), null);
  const prm = await fetch(PRM_JSON_URL, { headers: { origin: INSPECTOR_ORIGIN } });
  await prm.arrayBuffer();
  assert.equal(prm.headers.get('access-control-allow-origin'), '*');
});
