// A browser client: headless Chromium (Debian's, driven by playwright-core) runs a page served from
// another origin (a static server on BROWSER_ORIGIN) that does what a browser-based MCP client
// does, all with CORS: POST to the MCP endpoint (401, reads the exposed WWW-Authenticate), PRM,
// AS metadata via the gateway facade, registration through the gateway, login at the IdP (the
// browser navigates there), token request from the page, then MCP calls with Authorization +
// Mcp-Protocol-Version (preflighted). The location is GW3 (keycloak mode, MCPAuthCORSOrigins =
// BROWSER_ORIGIN).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  ISSUER, GW, GW3_MCP_URL, GW3_PRM_URL, GW3_AS_URL, GW3_REGISTER_URL, BROWSER_ORIGIN, parseChallenge,
  accessLogSize, accessLogSince,
} from './testenv.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
// Loopback only: every other host name fails without a DNS query (the IdP's pages link a web font).
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost'];
const CALLBACK = `${BROWSER_ORIGIN}/callback`;

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>browser MCP client</title></head>
<body><p id="status">loaded</p></body></html>`;

let server;
let context;
let userDataDir;

before(async () => {
  const port = Number(new URL(BROWSER_ORIGIN).port);
  server = http.createServer((req, res) => {
    const u = new URL(req.url, BROWSER_ORIGIN);
    if (u.pathname === '/' || u.pathname === '/callback') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(PAGE);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-auth-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM, headless: true, args: FLAGS, timeout: 30000,
  });
});

after(async () => {
  if (context) await context.close().catch(() => {});
  if (server) {
    server.closeAllConnections?.();
    await new Promise((r) => { server.close(r); });
  }
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
});

/** Records the page's requests (Playwright events), in order. */
function recordPage(page) {
  const log = [];
  const byReq = new Map();
  page.on('request', (req) => {
    const e = { method: req.method(), url: req.url(), type: req.resourceType() };
    byReq.set(req, e);
    log.push(e);
  });
  page.on('response', (res) => {
    const e = byReq.get(res.request());
    if (e) e.status = res.status();
  });
  page.on('requestfailed', (req) => {
    const e = byReq.get(req);
    if (e) e.error = req.failure()?.errorText ?? 'failed';
  });
  return log;
}

function printLogs(t, browserLog, gatewayLog) {
  t.diagnostic('request sequence (Chromium page on another origin, as the browser reports it):');
  browserLog.forEach((e, i) => {
    const u = new URL(e.url);
    t.diagnostic(`${String(i + 1).padStart(2)}. [browser:${e.type}] ${e.method} ${u.origin}${u.pathname} -> ${e.status ?? e.error ?? '(no answer)'}`);
  });
  t.diagnostic('the same run as the gateway saw it (httpd access log; CORS preflights included):');
  gatewayLog.forEach((e, i) => {
    t.diagnostic(`${String(i + 1).padStart(2)}. [gateway] ${e.method ?? '?'} ${e.path ?? e.line} -> ${e.status ?? '?'}`);
  });
}

test('browser client on another origin: discovery, registration, login, tool call (CORS)', async (t) => {
  const page = await context.newPage();
  const log = recordPage(page);
  const from = accessLogSize();
  try {
    await page.goto(`${BROWSER_ORIGIN}/`);

    // 1. the MCP endpoint without a token: a 401 whose WWW-Authenticate the page can read
    const first = await page.evaluate(async (mcpUrl) => {
      const res = await fetch(mcpUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2025-06-18',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'browser', version: '1' } } }),
      });
      return { status: res.status, wwwAuthenticate: res.headers.get('www-authenticate') };
    }, GW3_MCP_URL);
    assert.equal(first.status, 401);
    assert.ok(first.wwwAuthenticate, 'WWW-Authenticate readable from the page (exposed)');
    const prmUrl = parseChallenge(first.wwwAuthenticate).params.resource_metadata;
    assert.equal(prmUrl, GW3_PRM_URL);

    // 2. discovery and registration from the page
    const disco = await page.evaluate(async ({ prmUrl: p, callback }) => {
      const headers = { 'mcp-protocol-version': '2025-06-18', accept: 'application/json' };
      const prm = await (await fetch(p, { headers })).json();
      const as = new URL(prm.authorization_servers[0]);
      const mdUrl = `${as.origin}/.well-known/oauth-authorization-server${as.pathname.replace(/\/$/, '')}`;
      const mdRes = await fetch(mdUrl, { headers });
      const md = await mdRes.json();
      const reg = await fetch(md.registration_endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          client_name: 'browser client', redirect_uris: [callback], grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'], token_endpoint_auth_method: 'none',
        }),
      });
      return { prm, mdUrl, mdStatus: mdRes.status, md, regStatus: reg.status, client: await reg.json() };
    }, { prmUrl, callback: CALLBACK });
    assert.equal(disco.prm.resource, GW3_MCP_URL);
    assert.equal(disco.mdUrl, GW3_AS_URL, 'AS metadata from the gateway facade');
    assert.equal(disco.mdStatus, 200);
    assert.equal(disco.md.issuer, GW3_MCP_URL);
    assert.equal(disco.md.registration_endpoint, GW3_REGISTER_URL);
    assert.equal(disco.regStatus, 201, JSON.stringify(disco.client));
    const clientId = disco.client.client_id;
    assert.ok(clientId);

    // 3. PKCE in the page, then the browser goes to the IdP and logs in
    const pkce = await page.evaluate(async () => {
      const b64u = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
      const verifier = b64u(crypto.getRandomValues(new Uint8Array(32)));
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
      return { verifier, challenge: b64u(digest), state: b64u(crypto.getRandomValues(new Uint8Array(12))) };
    });
    const authz = new URL(disco.md.authorization_endpoint);
    authz.search = new URLSearchParams({
      response_type: 'code', client_id: clientId, redirect_uri: CALLBACK, state: pkce.state,
      code_challenge: pkce.challenge, code_challenge_method: 'S256', scope: disco.prm.scopes_supported.join(' '),
      resource: disco.prm.resource,
    }).toString();
    await page.goto(authz.href);
    for (let step = 0; step < 6 && !page.url().startsWith(CALLBACK); step += 1) {
      if (await page.locator('input[name="login"]').count()) {
        await page.fill('input[name="login"]', 'bria');
        await page.fill('input[name="password"]', 'secret');
      }
      const before_ = page.url();
      await Promise.all([
        page.waitForURL((u) => u.href !== before_, { timeout: 15000 }),
        page.click('button[type="submit"]'),
      ]);
      await page.waitForLoadState('load');
    }
    const back = new URL(page.url());
    assert.equal(`${back.origin}${back.pathname}`, CALLBACK, `ended at ${page.url()}`);
    assert.equal(back.searchParams.get('state'), pkce.state);
    const code = back.searchParams.get('code');
    assert.ok(code, `code in ${page.url()}`);

    // 4. token request from the page (the IdP allows CORS for a public client's redirect origin)
    const tok = await page.evaluate(async ({ tokenEndpoint, body }) => {
      const res = await fetch(tokenEndpoint, { method: 'POST', body: new URLSearchParams(body) });
      return { status: res.status, json: await res.json() };
    }, {
      tokenEndpoint: disco.md.token_endpoint,
      body: {
        grant_type: 'authorization_code', code, redirect_uri: CALLBACK, client_id: clientId,
        code_verifier: pkce.verifier, resource: disco.prm.resource,
      },
    });
    assert.equal(tok.status, 200, JSON.stringify(tok.json));
    const claims = JSON.parse(Buffer.from(tok.json.access_token.split('.')[1], 'base64url'));
    assert.equal(claims.aud, GW3_MCP_URL);
    assert.equal(claims.iss, ISSUER);

    // 5. MCP calls with Authorization + Mcp-Protocol-Version (preflighted)
    const mcp = await page.evaluate(async ({ mcpUrl, token }) => {
      const base = {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2025-06-18',
      };
      const rpcOf = async (res) => {
        const text = await res.text();
        if (!(res.headers.get('content-type') || '').startsWith('text/event-stream')) return text ? JSON.parse(text) : null;
        for (const block of text.split(/\r?\n\r?\n/)) {
          const data = block.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
          if (data) return JSON.parse(data);
        }
        return null;
      };
      const post = (headers, msg) => fetch(mcpUrl, { method: 'POST', headers, body: JSON.stringify(msg) });
      let res = await post(base, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'browser', version: '1' } } });
      const out = { initStatus: res.status, sessionId: res.headers.get('mcp-session-id') };
      out.init = await rpcOf(res);
      const h = { ...base, 'mcp-session-id': out.sessionId };
      res = await post(h, { jsonrpc: '2.0', method: 'notifications/initialized' });
      out.initializedStatus = res.status;
      res = await post(h, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'from the browser' } } });
      out.echoStatus = res.status;
      out.echo = await rpcOf(res);
      res = await post(h, { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'whoami', arguments: {} } });
      out.whoami = await rpcOf(res);
      res = await fetch(mcpUrl, { method: 'DELETE', headers: h });
      out.deleteStatus = res.status;
      return out;
    }, { mcpUrl: GW3_MCP_URL, token: tok.json.access_token });
    assert.equal(mcp.initStatus, 200);
    assert.ok(mcp.sessionId, 'Mcp-Session-Id readable from the page (exposed)');
    assert.equal(mcp.init.result.serverInfo.name, 'mod-mcp-auth-sample');
    assert.equal(mcp.initializedStatus, 202);
    assert.equal(mcp.echoStatus, 200);
    assert.equal(mcp.echo.result.content[0].text, 'from the browser');
    const me = JSON.parse(mcp.whoami.result.content[0].text);
    assert.equal(me.remoteUser, 'bria');
    assert.equal(me.authorizationReceived, false);
    assert.equal(mcp.deleteStatus, 200);

    // 6. a gateway location that does not list this origin: the browser refuses the answer
    const refused = await page.evaluate(async ({ url, token }) => {
      try {
        await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
        return 'answered';
      } catch (err) {
        return `${err.name}: ${err.message}`;
      }
    }, { url: `${GW}/mcp`, token: tok.json.access_token });
    assert.match(refused, /TypeError/, 'CORS blocks an origin that is not listed');
  } finally {
    const gatewayLog = (await accessLogSince(from)).filter((e) => !e.path || !e.path.startsWith('/realms/'));
    printLogs(t, log, gatewayLog);
    const preflights = gatewayLog.filter((e) => e.method === 'OPTIONS');
    t.diagnostic(`${preflights.length} CORS preflights reached the gateway: ${preflights.map((e) => `${e.path} ${e.status}`).join(', ')}`);
    await page.close().catch(() => {});
  }
  const gatewayLog = await accessLogSince(from, { settleMs: 0 });
  const pre = gatewayLog.filter((e) => e.method === 'OPTIONS');
  assert.ok(pre.some((e) => e.path === '/mcp' && e.status === 204), 'preflight on /mcp answered 204');
  assert.ok(pre.some((e) => e.path.startsWith('/.well-known/mcp-auth/register/') && e.status === 204),
    'preflight on the registration endpoint answered 204');
  assert.ok(pre.every((e) => e.status === 204), 'every preflight 204');
});
