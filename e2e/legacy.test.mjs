// A client written to MCP 2025-03-26: it ignores RFC 9728 and the challenge's resource_metadata,
// takes the MCP server's origin as the authorization base URL, reads
// {origin}/.well-known/oauth-authorization-server, registers, authorizes with PKCE (no scope, no
// resource: the IdP applies its default scope and audience), and calls a tool. Plain fetch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { recordingFetch, formatLog, headlessAuthorize } from './client.mjs';
import { ISSUER, GW3_MCP_URL, GW3_AS_ROOT_URL, GW3_REGISTER_URL } from './testenv.mjs';

const PROTOCOL = '2025-03-26';
const REDIRECT = 'http://127.0.0.1:33419/legacy-callback';

/** Reads a JSON-RPC answer sent as JSON or as an SSE stream. */
async function rpcResult(res) {
  const text = await res.text();
  if ((res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    for (const block of text.split(/\r?\n\r?\n/)) {
      const data = block.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
      if (data) {
        const msg = JSON.parse(data);
        if (msg.id !== undefined) return msg;
      }
    }
    throw new Error(`no JSON-RPC answer in: ${text.slice(0, 200)}`);
  }
  return JSON.parse(text);
}

test('2025-03-26 client: root AS metadata on the MCP origin, registration, PKCE, tool call', async (t) => {
  const log = [];
  const f = recordingFetch(log, { via: '03-26' });
  try {
    const mcp = new URL(GW3_MCP_URL);
    const mcpHeaders = (extra = {}) => ({
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': PROTOCOL,
      ...extra,
    });
    const initialize = {
      jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 'legacy-03-26', version: '0.1' } },
    };

    // 1. unauthenticated: 401 (the challenge is not read)
    let res = await f(GW3_MCP_URL, { method: 'POST', headers: mcpHeaders(), body: JSON.stringify(initialize) });
    await res.arrayBuffer();
    assert.equal(res.status, 401);

    // 2. authorization base URL = the MCP URL without its path
    res = await f(`${mcp.origin}/.well-known/oauth-authorization-server`, { headers: { 'mcp-protocol-version': PROTOCOL } });
    assert.equal(res.url, GW3_AS_ROOT_URL);
    assert.equal(res.status, 200, 'root AS metadata on the MCP origin');
    const md = await res.json();
    assert.equal(md.registration_endpoint, GW3_REGISTER_URL, 'registration through the gateway');
    assert.ok(md.code_challenge_methods_supported.includes('S256'));
    assert.ok(md.authorization_endpoint.startsWith(new URL(GW3_MCP_URL).origin), 'authorization through the gateway (the relay)');
    assert.ok(md.token_endpoint.startsWith(new URL(GW3_MCP_URL).origin), 'tokens through the gateway');

    // 3. dynamic registration
    res = await f(md.registration_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: 'legacy 2025-03-26 client', redirect_uris: [REDIRECT],
        grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none',
      }),
    });
    assert.equal(res.status, 201, 'registered');
    const client = await res.json();
    assert.ok(client.client_id);

    // 4. authorization code with PKCE, no scope, no resource
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const state = randomBytes(8).toString('hex');
    const authz = new URL(md.authorization_endpoint);
    authz.search = new URLSearchParams({
      response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT, state,
      code_challenge: challenge, code_challenge_method: 'S256',
    }).toString();
    const loginLog = recordingFetch(log, { via: 'login' });
    const result = await headlessAuthorize(authz.href, { redirectUrl: REDIRECT, username: 'lee', fetch: loginLog });
    assert.equal(result.error, undefined, `${result.error} ${result.error_description}`);
    assert.equal(result.state, state);
    assert.equal(result.iss, GW3_MCP_URL, 'the relay names itself in iss (RFC 9207)');

    // 5. token
    res = await f(md.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code', code: result.code, redirect_uri: REDIRECT, client_id: client.client_id,
        code_verifier: verifier,
      }),
    });
    const tok = await res.json();
    assert.equal(res.status, 200, JSON.stringify(tok));
    const claims = JSON.parse(Buffer.from(tok.access_token.split('.')[1], 'base64url'));
    assert.equal(claims.aud, GW3_MCP_URL, 'the IdP\'s default audience is this MCP URL');
    assert.equal(claims.iss, ISSUER);

    // 6. MCP session with the token
    const auth = { authorization: `Bearer ${tok.access_token}` };
    res = await f(GW3_MCP_URL, { method: 'POST', headers: mcpHeaders(auth), body: JSON.stringify(initialize) });
    assert.equal(res.status, 200);
    const session = res.headers.get('mcp-session-id');
    assert.ok(session, 'a session');
    const init = await rpcResult(res);
    assert.equal(init.result.serverInfo.name, 'mod-mcp-auth-sample');
    const sid = { 'mcp-session-id': session };
    res = await f(GW3_MCP_URL, {
      method: 'POST', headers: mcpHeaders({ ...auth, ...sid }),
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    });
    await res.arrayBuffer();
    assert.equal(res.status, 202);
    res = await f(GW3_MCP_URL, {
      method: 'POST', headers: mcpHeaders({ ...auth, ...sid }),
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'whoami', arguments: {} } }),
    });
    assert.equal(res.status, 200);
    const who = JSON.parse((await rpcResult(res)).result.content[0].text);
    assert.equal(who.remoteUser, 'lee');
    assert.equal(who.authorizationReceived, false);
    res = await f(GW3_MCP_URL, {
      method: 'POST', headers: mcpHeaders({ ...auth, ...sid }),
      body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'echo', arguments: { text: '03-26' } } }),
    });
    assert.equal((await rpcResult(res)).result.content[0].text, '03-26');
    res = await f(GW3_MCP_URL, { method: 'DELETE', headers: mcpHeaders({ ...auth, ...sid }) });
    await res.arrayBuffer();
    assert.equal(res.status, 200);
  } finally {
    t.diagnostic('request sequence (2025-03-26 client, plain fetch):');
    for (const line of formatLog(log).split('\n')) t.diagnostic(line);
  }
});
