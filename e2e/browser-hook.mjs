#!/usr/bin/env node
// A stand-in for the user's browser, for clients that open the authorization URL themselves
// (mcp-remote, the MCP Inspector CLI): name this file in $BROWSER. xdg-open (through the `open`
// package those clients use) runs `$BROWSER URL`. The script logs in at the IdP as a person
// would (the gateway's consent page included), then loads the final redirect, which is the
// client's own loopback listener, as the browser would.
//
// Environment:
//   E2E_HOOK_LOG     file to append one JSON line per request made (for the test to print)
//   E2E_HOOK_USER    user name to log in as (default hook-user)
//   E2E_HOOK_CONSENT the consent button to press: approve (default) or deny
import fs from 'node:fs';
import { headlessAuthorize, recordingFetch } from './client.mjs';

const target = process.argv.slice(2).find((a) => /^https?:/.test(a));
const log = [];
const record = (entry) => {
  if (process.env.E2E_HOOK_LOG) fs.appendFileSync(process.env.E2E_HOOK_LOG, `${JSON.stringify(entry)}\n`);
};

try {
  if (!target) throw new Error(`no URL in ${JSON.stringify(process.argv.slice(2))}`);
  const redirectUrl = new URL(target).searchParams.get('redirect_uri');
  if (!redirectUrl) throw new Error(`no redirect_uri in ${target}`);
  const result = await headlessAuthorize(target, {
    redirectUrl,
    username: process.env.E2E_HOOK_USER || 'hook-user',
    consent: process.env.E2E_HOOK_CONSENT || 'approve',
    fetch: recordingFetch(log, { via: 'browser' }),
  });
  // the browser lands on the client's listener
  const res = await recordingFetch(log, { via: 'browser' })(result.url, { redirect: 'manual' });
  await res.arrayBuffer();
  for (const e of log) record(e);
  record({ done: true, consentPages: result.consentPages.length, error: result.error });
} catch (err) {
  for (const e of log) record(e);
  record({ done: true, failure: String(err?.stack ?? err) });
  process.exitCode = 1;
}
