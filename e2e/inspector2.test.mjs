// The MCP Inspector 2.x (2.12.0) CLI, which logs in by itself with the SDK 2.x client (RFC 8414
// issuer and RFC 9207 iss checks): it listens on --callback-url and opens the authorization URL
// in the browser (browser-hook.mjs through $BROWSER, MCP_AUTO_OPEN_ENABLED=true as there is no
// TTY). Against the keycloak-mode relay and the MCPAuthClientID (consent) mode: a first run logs
// in and lists the tools, a second calls a tool with the stored token, a third, whose stored
// access token is refused, refreshes without a new login.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hookHome, hookEntries, freePort, printSequence, runNode, spoilStoredAccessTokens } from './hook.mjs';
import { GW3_MCP_URL, STATIC_MCP_URL, ISSUER, accessLogSize, accessLogSince } from './testenv.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const LAUNCHER = path.join(here, 'node_modules', 'inspector2', 'clients', 'launcher', 'build', 'index.js');

/** One Inspector CLI run in `home`; resolves { code, signal, stdout, stderr }. */
function inspector(args, home) {
  return runNode(LAUNCHER, ['--cli', ...args], {
    cwd: home.dir, env: { ...home.env, MCP_AUTO_OPEN_ENABLED: 'true', MCP_INSPECTOR_SECRET_STORE: 'file' },
  });
}

const jsonOf = (r) => {
  try { return JSON.parse(r.stdout); } catch { throw new Error(`no JSON on stdout (exit ${r.code}):\n${r.stdout}\n${r.stderr}`); }
};

for (const [mode, url, consentPages] of [['keycloak relay', GW3_MCP_URL, 0], ['MCPAuthClientID (consent)', STATIC_MCP_URL, 1]]) {
  test(`MCP Inspector 2.x CLI, ${mode}: browser login, tools/list, a stored-token call, a refresh`, async (t) => {
    assert.ok(fs.existsSync(LAUNCHER), `${LAUNCHER} (npm ci in e2e/)`);
    const home = hookHome('mcp-inspector2-', { user: 'ines' });
    const callback = `http://127.0.0.1:${await freePort()}/oauth/callback`;
    const common = [url, '--transport', 'http', '--callback-url', callback, '--format', 'json'];
    const from = accessLogSize();
    try {
      const list = await inspector([...common, '--method', 'tools/list'], home);
      assert.equal(list.code, 0, `exit ${list.code} ${list.signal ?? ''}\n${list.stderr}\n${list.stdout}`);
      assert.deepEqual(jsonOf(list).result.tools.map((x) => x.name).sort(), ['echo', 'progress', 'whoami']);
      const { requests, runs } = hookEntries(home.hookLog);
      assert.equal(runs.length, 1, `one browser login: ${JSON.stringify(runs)}`);
      assert.equal(runs[0].failure, undefined, runs[0].failure);
      assert.equal(runs[0].consentPages, consentPages, 'consent pages shown');
      assert.ok(requests.some((e) => e.url.startsWith(`${ISSUER}/`)), 'the user logged in at the IdP');
      assert.equal(new URL(requests.at(-1).url).searchParams.get('iss'), url, 'RFC 9207: iss is the gateway');

      const call = await inspector([...common, '--method', 'tools/call', '--tool-name', 'whoami'], home);
      assert.equal(call.code, 0, `exit ${call.code}\n${call.stderr}\n${call.stdout}`);
      assert.equal(JSON.parse(jsonOf(call).result.content[0].text).remoteUser, 'ines');
      assert.equal(hookEntries(home.hookLog).runs.length, 1, 'the stored token was used: no second login');

      assert.ok(spoilStoredAccessTokens(home.dir) >= 1, 'the Inspector stored an access token');
      const mark = accessLogSize();
      const again = await inspector([...common, '--method', 'tools/call', '--tool-name', 'whoami'], home);
      assert.equal(again.code, 0, `exit ${again.code}\n${again.stderr}\n${again.stdout}`);
      assert.equal(JSON.parse(jsonOf(again).result.content[0].text).remoteUser, 'ines');
      assert.equal(hookEntries(home.hookLog).runs.length, 1, 'refreshed: no second login');
      const refreshed = await accessLogSince(mark);
      assert.ok(refreshed.some((e) => e.method === 'POST' && /\/token\//.test(e.path) && e.status === 200),
        'a token request at the gateway');
    } finally {
      const gateway = (await accessLogSince(from)).filter((e) => e.path && !e.path.startsWith('/realms/'));
      printSequence(t, `Inspector 2.x CLI, ${mode}`, gateway, hookEntries(home.hookLog).requests);
      fs.rmSync(home.dir, { recursive: true, force: true });
    }
  });
}
