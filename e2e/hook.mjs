// Helpers for clients that open the authorization URL in "the browser" themselves (mcp-remote, the
// MCP Inspector CLI): the environment that makes browser-hook.mjs their browser, and what the hook
// did, read back from its log.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatLog } from './client.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const BROWSER_HOOK = path.join(here, 'browser-hook.mjs');

/**
 * A fresh home for one client run: { dir, hookLog, env } where env sends the client's browser to
 * browser-hook.mjs (logging in as `user`, pressing `consent` on the gateway's page) and keeps the
 * client's stored state inside dir.
 */
export function hookHome(prefix, { user = 'hook-user', consent = 'approve' } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const hookLog = path.join(dir, 'browser.jsonl');
  const env = {
    ...process.env,
    HOME: dir,
    XDG_CONFIG_HOME: path.join(dir, '.config'),
    BROWSER: BROWSER_HOOK,
    NO_COLOR: '1',
    E2E_HOOK_LOG: hookLog,
    E2E_HOOK_USER: user,
    E2E_HOOK_CONSENT: consent,
  };
  // no desktop: xdg-open then runs $BROWSER
  for (const k of ['DISPLAY', 'WAYLAND_DISPLAY', 'XDG_CURRENT_DESKTOP', 'DESKTOP_SESSION']) delete env[k];
  return { dir, hookLog, env };
}

/** The hook's entries: { requests: [...], runs: [{ consentPages, error, failure }] }. */
export function hookEntries(hookLog) {
  let lines = [];
  try { lines = fs.readFileSync(hookLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)); } catch { /* none */ }
  return { requests: lines.filter((e) => !e.done), runs: lines.filter((e) => e.done) };
}

/** A free loopback port (for a client's OAuth callback listener). */
export async function freePort() {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Prints a client's request sequence: the gateway's side from httpd's access log (query strings
 * left out: they carry codes and state), the browser's from the hook.
 */
export function printSequence(t, title, gateway, browser = []) {
  const sources = browser.length ? 'gateway requests from httpd\'s access log, browser steps from the hook' : 'from httpd\'s access log';
  t.diagnostic(`request sequence (${title}; ${sources}):`);
  gateway.forEach((e, i) => {
    t.diagnostic(`${String(i + 1).padStart(2)}. [gateway] ${e.method ?? '?'} ${(e.path ?? e.line).replace(/\?.*/, '')} -> ${e.status ?? '?'}`);
  });
  if (browser.length) for (const line of formatLog(browser).split('\n')) t.diagnostic(line);
}

/** Runs `node script args...`; resolves { code, signal, stdout, stderr } (killed after timeoutMs). */
export function runNode(script, args, { cwd, env = process.env, timeoutMs = 120000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); }, timeoutMs);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
}

/**
 * Replaces every access token a client stored in JSON files below dir (also inside JSON kept as
 * a string) with garbage, as if the server had revoked it. Returns how many it replaced.
 */
export function spoilStoredAccessTokens(dir) {
  let spoiled = 0;
  const spoil = (m, key) => { spoiled += 1; return `${key}revoked-or-garbage${key.endsWith('\\"') ? '\\"' : '"'}`; };
  const walk = (d) => {
    for (const name of fs.readdirSync(d)) {
      const p = path.join(d, name);
      if (fs.statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.json')) {
        const text = fs.readFileSync(p, 'utf8');
        const next = text.replace(/("access_token"\s*:\s*")[^"]+"/g, spoil)
          .replace(/(\\"access_token\\"\s*:\s*\\")[^"\\]+\\"/g, spoil);
        if (next !== text) fs.writeFileSync(p, next);
      }
    }
  };
  walk(dir);
  return spoiled;
}
