// The MCP Inspector (1.0.3, CLI mode) through the gateway: tools/list with a bearer token from the
// IdP, and a refusal without one. Its requests are read back from httpd's access log.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectWithOAuth, disconnect } from './client.mjs';
import { runNode, printSequence } from './hook.mjs';
import { MCP_URL, accessLogSize, accessLogSince } from './testenv.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.join(here, 'node_modules', '@modelcontextprotocol', 'inspector', 'cli', 'build', 'cli.js');

/**
 * Runs the Inspector CLI from a neutral directory (1.0.3 fails when a parent folder holds a
 * package.json). Resolves { code, stdout, stderr }.
 */
async function inspector(args) {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-inspector-'));
  try {
    return await runNode(CLI, args, { cwd, env: { ...process.env, NO_COLOR: '1', MCP_AUTO_OPEN_ENABLED: 'false' }, timeoutMs: 60000 });
  } finally {
    fs.rmSync(cwd, { recursive: true, force: true });
  }
}

let token;
before(async () => {
  // A real access token from the IdP, through the SDK flow.
  const c = await connectWithOAuth(MCP_URL, { username: 'ina' });
  token = c.provider.tokens().access_token;
  await disconnect(c);
});

test('MCP Inspector CLI lists the tools with a bearer token', async (t) => {
  assert.ok(fs.existsSync(CLI), `${CLI} (npm ci in e2e/)`);
  const from = accessLogSize();
  const started = Date.now();
  const r = await inspector(['--cli', MCP_URL, '--transport', 'http', '--method', 'tools/list',
    '--header', `Authorization: Bearer ${token}`]);
  const requests = (await accessLogSince(from, { startedAfter: started })).filter((e) => e.path?.startsWith('/mcp'));
  printSequence(t, 'Inspector, with a token', requests);
  assert.equal(r.code, 0, `exit ${r.code} ${r.signal ?? ''}\n${r.stderr}\n${r.stdout}`);
  const out = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
  assert.deepEqual(out.tools.map((x) => x.name).sort(), ['echo', 'progress', 'whoami']);
  assert.ok(requests.some((e) => e.method === 'POST' && e.status === 200), 'a POST answered 200');
  assert.ok(!requests.some((e) => e.status === 401), 'no 401');
});

test('MCP Inspector CLI fails without a token (401 from the gateway)', async (t) => {
  const from = accessLogSize();
  const started = Date.now();
  const r = await inspector(['--cli', MCP_URL, '--transport', 'http', '--method', 'tools/list']);
  // (an SSE stream an earlier test opened may end now: its entry is left out)
  const requests = (await accessLogSince(from, { startedAfter: started })).filter((e) => e.path?.startsWith('/mcp'));
  printSequence(t, 'Inspector, no token', requests);
  assert.notEqual(r.code, 0, 'non-zero exit');
  assert.match(`${r.stderr}\n${r.stdout}`, /401|unauthori[sz]ed/i);
  assert.ok(requests.length >= 1 && requests.every((e) => e.status === 401), 'every request refused with 401');
});

test('MCP Inspector CLI fails with a token for another resource', async () => {
  const r = await inspector(['--cli', MCP_URL.replace(/\/mcp$/, '/mcp-json'), '--transport', 'http',
    '--method', 'tools/list', '--header', `Authorization: Bearer ${token}`]);
  assert.notEqual(r.code, 0);
  assert.match(`${r.stderr}\n${r.stdout}`, /"error":"invalid_token","error_description":"audience mismatch"/);
});
