// mcp-remote (0.15.1), the stdio bridge desktop clients start as `npx mcp-remote URL`: it bundles
// the SDK 2.x authorization code (RFC 8414 issuer and RFC 9207 iss checks), listens on a loopback
// port for the OAuth redirect and opens the authorization URL in the browser, here
// browser-hook.mjs through $BROWSER. Against the keycloak-mode relay and the MCPAuthClientID
// (consent) mode it must log in, list and call tools over stdio, and on a later start with a
// rejected access token refresh without a new login.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hookHome, hookEntries, freePort, printSequence, spoilStoredAccessTokens } from './hook.mjs';
import { GW3_MCP_URL, STATIC_MCP_URL, ISSUER, accessLogSize, accessLogSince } from './testenv.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const PROXY = path.join(here, 'node_modules', 'mcp-remote', 'dist', 'proxy.js');

/**
 * Starts mcp-remote for `url` and speaks newline-delimited JSON-RPC with it.
 * request(method, params) resolves with the response; close() ends it.
 */
function startRemote(url, port, env) {
  const child = spawn(process.execPath, [PROXY, url, String(port), '--host', '127.0.0.1'], {
    env, stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  let buffered = '';
  let nextId = 1;
  const pending = new Map();
  const exited = new Promise((resolve) => { child.on('close', (code, signal) => resolve({ code, signal })); });
  child.stderr.on('data', (d) => { stderr += d; });
  child.stdout.on('data', (d) => {
    buffered += d;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (!line) continue;
      let msg;
      try { msg = JSON.parse(line); } catch { continue; }
      if (msg.id !== undefined && pending.has(msg.id)) {
        pending.get(msg.id)(msg);
        pending.delete(msg.id);
      }
    }
  });
  const send = (msg) => child.stdin.write(`${JSON.stringify(msg)}\n`);
  return {
    get stderr() { return stderr; },
    request(method, params = {}, timeoutMs = 90000) {
      const id = nextId;
      nextId += 1;
      const answer = new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${method}: no answer in ${timeoutMs} ms; stderr:\n${stderr}`)), timeoutMs);
        pending.set(id, (msg) => { clearTimeout(timer); resolve(msg); });
        exited.then(({ code }) => { clearTimeout(timer); reject(new Error(`mcp-remote exited (${code}) before answering ${method}:\n${stderr}`)); });
      });
      send({ jsonrpc: '2.0', id, method, params });
      return answer;
    },
    notify(method, params = {}) { send({ jsonrpc: '2.0', method, params }); },
    async close() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
      child.kill('SIGTERM');
      await exited;
      clearTimeout(timer);
    },
  };
}

/** initialize, tools/list and whoami through one mcp-remote run; returns whoami's answer. */
async function session(remote) {
  const init = await remote.request('initialize', {
    protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'mcp-remote-e2e', version: '1.0.0' },
  });
  assert.ok(init.result?.serverInfo, `initialize: ${JSON.stringify(init)}`);
  remote.notify('notifications/initialized');
  const list = await remote.request('tools/list');
  assert.deepEqual(list.result?.tools?.map((x) => x.name).sort(), ['echo', 'progress', 'whoami'], JSON.stringify(list));
  const who = await remote.request('tools/call', { name: 'whoami', arguments: {} });
  assert.ok(!who.result?.isError, JSON.stringify(who));
  return JSON.parse(who.result.content[0].text);
}

for (const [mode, url, consentPages] of [['keycloak relay', GW3_MCP_URL, 0], ['MCPAuthClientID (consent)', STATIC_MCP_URL, 1]]) {
  test(`mcp-remote, ${mode}: browser login, tools over stdio, refresh on the next start`, async (t) => {
    assert.ok(fs.existsSync(PROXY), `${PROXY} (npm ci in e2e/)`);
    const home = hookHome('mcp-remote-', { user: 'remy' });
    home.env.MCP_REMOTE_CONFIG_DIR = path.join(home.dir, 'mcp-auth');
    const from = accessLogSize();
    const port = await freePort(); // its OAuth callback port, the same on both starts
    let remote = startRemote(url, port, home.env);
    try {
      const me = await session(remote);
      assert.equal(me.remoteUser, 'remy');
      const { requests, runs } = hookEntries(home.hookLog);
      assert.equal(runs.length, 1, `one browser login: ${JSON.stringify(runs)}`);
      assert.equal(runs[0].failure, undefined, runs[0].failure);
      assert.equal(runs[0].consentPages, consentPages, 'consent pages shown');
      assert.ok(requests.some((e) => e.url.startsWith(`${ISSUER}/`)), 'the user logged in at the IdP');
      const callback = requests.at(-1);
      assert.match(callback.url, /^http:\/\/127\.0\.0\.1:\d+\/oauth\/callback\?/, 'the browser ended at mcp-remote\'s listener');
      assert.equal(new URL(callback.url).searchParams.get('iss'), url, 'RFC 9207: iss is the gateway');
      await remote.close();

      // next start: the stored access token is refused, the stored refresh token is used
      assert.ok(spoilStoredAccessTokens(home.env.MCP_REMOTE_CONFIG_DIR) >= 1, 'mcp-remote stored tokens');
      remote = startRemote(url, port, home.env);
      assert.equal((await session(remote)).remoteUser, 'remy');
      assert.equal(hookEntries(home.hookLog).runs.length, 1, 'no second browser login');
    } finally {
      await remote.close().catch(() => {});
      const gateway = (await accessLogSince(from)).filter((e) => e.path && !e.path.startsWith('/realms/'));
      printSequence(t, `mcp-remote, ${mode}`, gateway, hookEntries(home.hookLog).requests);
      fs.rmSync(home.dir, { recursive: true, force: true });
    }
    const gateway = await accessLogSince(from, { settleMs: 0 });
    assert.ok(gateway.some((e) => e.method === 'POST' && /\/token\//.test(e.path) && e.status === 200),
      'tokens came from the gateway\'s token endpoint');
  });
}
