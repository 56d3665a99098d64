// DPoP (RFC 9449) across the gateway fleet: both hosts protect /dpop as a plain resource server
// (no relay: the clients get their tokens from the IdP) with MCPAuthDPoP required and
// MCPAuthDPoPNonce On, behind the round-robin front, sharing one Redis (where each proof's jti is
// kept single use) and one MCPAuthRelayKey (which seals the nonces). What must hold:
//   - a client's nonce from one host is good on the other (no use_dpop_nonce at every host switch);
//   - a proof used on one host is refused on the other, and of two hosts given one fresh proof at
//     once, one takes it;
//   - while Redis does not answer, a proof cannot be checked for replay: 503, never a pass.
// The gateways log the /dpop requests to logs/dpop_log (status, host, the DPoP-Nonce they handed
// out, the proof they were sent: httpd-gateway.conf.in), and their reasons to the error log.
// run.sh starts the stack; fleet.sh stops and starts Redis, and restarts both gateways after the
// outage (their Redis client keeps failing on connections pooled before it for a while).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint } from 'jose';
import { StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';
import { CookieJar, headlessAuthorize, recordingFetch, resultText } from '../client.mjs';
import { DpopProvider, newClient2, claimsOf } from '../sdk2.mjs';
import { FRONT, HOSTS, ISSUER, STATE, fleetCtl } from './env.mjs';

const DPOP_URL = `${FRONT}/dpop`;
const TOKEN_URL = `${ISSUER}/protocol/openid-connect/token`;
// every wait polls against this deadline (a busy machine is slow, never stuck)
const WAIT_MS = Number(process.env.FLEET_WAIT || 60) * 1000;

/** Polls fn (every 100 ms) until it returns something truthy, which it returns; throws at the deadline. */
async function until(what, fn, timeout = WAIT_MS) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`no ${what} after ${timeout} ms`);
    await new Promise((r) => { setTimeout(r, 100); });
  }
}

const b64json = (s) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
/** A proof's header and payload (not verified: the gateway did that). */
function proofParts(proof) {
  const [h, p] = proof.split('.');
  return { header: b64json(h), payload: b64json(p) };
}

/**
 * The transport's fetch (under the SDK's DPoP wrapper, so it sees each request as sent, the
 * use_dpop_nonce retry included): a recording fetch (client.mjs: its entries keep the request's
 * headers and body, to replay them, its proof's claims and the DPoP-Nonce answered) whose entries
 * also say which host answered.
 */
function dpopFetch(log, via) {
  const noting = async (input, init) => {
    const entry = log[log.length - 1]; // recordingFetch pushed it in this tick
    const res = await fetch(input, init);
    entry.host = res.headers.get('x-fleet-host') ?? undefined;
    return res;
  };
  return recordingFetch(log, { via, baseFetch: noting });
}

function printLog(t, title, log) {
  t.diagnostic(`requests of ${title}:`);
  log.forEach((e, i) => {
    const u = new URL(e.url);
    let s = `${String(i + 1).padStart(2)}. ${(e.host ?? (u.origin === FRONT ? '?' : 'idp')).padEnd(4)} [${e.via}] ${e.method} ${u.origin}${u.pathname}`;
    if (e.rpc) s += ` (${e.rpc})`;
    if (e.grantType) s += ` (grant_type=${e.grantType})`;
    if (e.proofClaims) s += ` proof ${e.proofClaims.jti.slice(0, 8)}${e.proofClaims.nonce ? ' with nonce' : ' without nonce'}`;
    s += ` -> ${e.status ?? e.error ?? '(pending)'}`;
    if (e.status === 401 && e.wwwAuthenticate) s += ` (${/error="([^"]*)"/.exec(e.wwwAuthenticate)?.[1] ?? 'challenge'})`;
    if (e.dpopNonce) s += ' +DPoP-Nonce';
    t.diagnostic(s);
  });
}

/**
 * The /dpop requests a gateway logged (logs/dpop_log, tab-separated: time, status, request, host,
 * pid, user, DPoP-Nonce handed out, proof, challenge), each with its proof's header and payload.
 */
function dpopLog(host) {
  const file = path.join(STATE, host, 'logs', 'dpop_log');
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  return text.split('\n').filter(Boolean).map((line) => {
    const [ms, status, request, logged, pid, user, nonceOut, proof, www] = line.split('\t');
    const dash = (v) => (v === '-' || v === undefined ? undefined : v);
    const e = {
      ms: Number(ms), status: Number(status), request, host: dash(logged) ?? host, loggedBy: host, pid, user: dash(user),
      nonceOut: dash(nonceOut), www: dash(www),
    };
    if (dash(proof)) Object.assign(e, proofParts(proof));
    return e;
  });
}
const bothDpopLogs = () => [...dpopLog('gw1'), ...dpopLog('gw2')].sort((a, b) => a.ms - b.ms);

/** A gateway's error log from byte `from` on, and its size now. */
function errorLog(host, from = 0) {
  const file = path.join(STATE, host, 'logs', 'error_log');
  const buf = fs.readFileSync(file);
  return { text: buf.subarray(from).toString('utf8'), size: buf.length };
}
const errorLogSizes = () => ({ gw1: errorLog('gw1').size, gw2: errorLog('gw2').size });
const count = (text, s) => text.split(s).length - 1;

const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'fleet-dpop-raw', version: '1.0.0' } },
});

/** A fresh proof (the SDK's session: its key, the nonce it holds for the front) for POST /dpop. */
async function freshProof(provider) {
  const session = await provider.dpop();
  return session.buildProof({ htm: 'POST', htu: new URL(DPOP_URL), accessToken: provider.tokens().access_token });
}

/** POST initialize to base/dpop (a host directly, or the front) with the provider's token and `proof`. */
async function dpopPost(base, provider, proof) {
  const res = await fetch(`${base}/dpop`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json', accept: 'application/json, text/event-stream',
      authorization: `DPoP ${provider.tokens().access_token}`, dpop: proof,
    },
    body: INITIALIZE,
  });
  return {
    status: res.status, host: res.headers.get('x-fleet-host'), www: res.headers.get('www-authenticate'),
    retryAfter: res.headers.get('retry-after'), body: await res.text(), jti: proofParts(proof).payload.jti,
  };
}
const brief = (a) => `${a.host ?? '?'} ${a.status}${a.www ? ` ${a.www}` : ''}${a.status >= 400 ? ` ${a.body.slice(0, 160)}` : ''}`;

async function open(provider, log) {
  const client = newClient2();
  await client.connect(new StreamableHTTPClientTransport(new URL(DPOP_URL), { authProvider: provider, fetch: dpopFetch(log, 'sdk') }));
  return client;
}

let login; // the first test's DPoP client (its provider: tokens and DPoP session)

// Redis is started again whatever happened in the outage test.
after(async () => {
  await fleetCtl('redis-start').catch(() => {});
});

test('DPoP through the front (SDK 2.x client): a login at the IdP, then calls on both hosts with one nonce', async (t) => {
  const log = [];
  let client;
  const errorsFrom = errorLogSizes();
  try {
    const provider = new DpopProvider({ clientName: 'fleet dpop client' });
    const session = await provider.dpop();
    const transport = new StreamableHTTPClientTransport(new URL(DPOP_URL), { authProvider: provider, fetch: dpopFetch(log, 'sdk') });
    await assert.rejects(newClient2().connect(transport), (e) => e instanceof UnauthorizedError, 'the first connect asks for a login');
    const first = log.find((e) => e.url === DPOP_URL);
    assert.equal(first.status, 401);
    assert.match(first.wwwAuthenticate ?? '', /^DPoP /, 'MCPAuthDPoP required: the challenge names DPoP alone');
    assert.ok(provider.authorizationUrl?.href.startsWith(`${ISSUER}/protocol/openid-connect/auth`),
      `the PRM sends the client to the IdP itself, not the relay: ${provider.authorizationUrl}`);
    const result = await headlessAuthorize(provider.authorizationUrl, {
      redirectUrl: String(provider.redirectUrl), username: 'fleet-dora', jar: new CookieJar(), fetch: recordingFetch(log, { via: 'browser' }),
    });
    assert.equal(result.error, undefined, `the login ends with a code: ${result.error} ${result.error_description ?? ''}`);
    const params = new URLSearchParams({ code: result.code, state: result.state });
    if (result.iss) params.set('iss', result.iss);
    await transport.finishAuth(params);
    await transport.close().catch(() => {});

    const redeemed = log.find((e) => e.url === TOKEN_URL && e.grantType === 'authorization_code' && e.status === 200);
    assert.ok(redeemed, 'the client redeemed its code at the IdP');
    assert.ok(redeemed.proof, 'with a DPoP proof');
    const tokens = provider.tokens();
    assert.equal(tokens.token_type?.toLowerCase(), 'dpop', 'the IdP issued a DPoP-bound token');
    const claims = claimsOf(tokens.access_token);
    assert.equal(claims.iss, ISSUER);
    assert.equal(claims.aud, DPOP_URL, 'for the fleet\'s DPoP resource');
    assert.equal(claims.cnf?.jkt, session.thumbprint, 'bound to the client\'s DPoP key');
    login = provider;

    const mark = log.length;
    client = await open(provider, log);
    const calls = 6;
    for (let i = 0; i < calls; i += 1) {
      if (i % 2) {
        assert.equal(resultText(await client.callTool({ name: 'echo', arguments: { text: `dpop ${i}` } })), `dpop ${i}`);
      } else {
        const me = JSON.parse(resultText(await client.callTool({ name: 'whoami', arguments: {} })));
        assert.equal(me.remoteUser, 'fleet-dora', 'the MCP server sees the IdP\'s user');
        assert.equal(me.authorizationReceived, false, 'the token stops at the gateway');
        assert.ok(!me.headerNames.includes('dpop'), 'and so does the proof');
      }
    }

    // the client's side: every request to /dpop after the login carried a proof
    const sent = log.slice(mark).filter((e) => e.url === DPOP_URL);
    for (const e of sent) assert.ok(e.proofClaims, `${e.method} ${e.rpc ?? ''} carried a proof`);
    const ok = sent.filter((e) => e.status < 400);
    assert.ok(ok.filter((e) => e.rpc === 'tools/call').length === calls, 'every tool call succeeded');
    assert.ok(ok.some((e) => e.host === 'gw1') && ok.some((e) => e.host === 'gw2'), 'the front spread them over both hosts');
    // (the SDK's GET for a stream gets the MCP server's 405: it passed the gateway)
    for (const e of sent.filter((x) => [400, 401, 403].includes(x.status) || x.status >= 500)) {
      assert.match(e.wwwAuthenticate ?? '', /error="use_dpop_nonce"/, `the only refusals are nonce challenges: ${e.method} -> ${e.status}`);
    }

    // the gateways' side: each of these proofs in one host's dpop_log (written after the answer)
    const jtis = new Set(sent.map((e) => e.proofClaims.jti));
    const mine = await until('dpop_log line for each of the client\'s proofs', () => {
      const lines = bothDpopLogs().filter((l) => jtis.has(l.payload?.jti));
      return lines.length >= jtis.size && lines;
    });
    assert.equal(mine.length, jtis.size, 'each proof reached one host once');
    const jkts = await Promise.all(mine.map((l) => calculateJwkThumbprint(l.header.jwk, 'sha256')));
    assert.ok(jkts.every((j) => j === session.thumbprint), 'all signed by the client\'s key');
    for (const h of ['gw1', 'gw2']) {
      assert.ok(mine.some((l) => l.loggedBy === h && l.status < 400 && l.user === 'fleet-dora'), `${h} served DPoP requests of fleet-dora`);
    }
    const issuedBy = new Map();
    for (const l of bothDpopLogs()) if (l.nonceOut) issuedBy.set(l.nonceOut, l.loggedBy);
    const challenges = mine.filter((l) => l.status === 401 && /use_dpop_nonce/.test(l.www ?? ''));
    const accepted = mine.filter((l) => l.status < 400);
    const across = accepted.filter((l) => issuedBy.has(l.payload.nonce) && issuedBy.get(l.payload.nonce) !== l.loggedBy);
    let switches = 0;
    for (let i = 1; i < mine.length; i += 1) if (mine[i].loggedBy !== mine[i - 1].loggedBy) switches += 1;
    t.diagnostic(`${mine.length} DPoP requests after the login: ${accepted.length} accepted (gw1 ${accepted.filter((l) => l.loggedBy === 'gw1').length}, `
      + `gw2 ${accepted.filter((l) => l.loggedBy === 'gw2').length}), ${switches} host switches, `
      + `${challenges.length} use_dpop_nonce (at ${challenges.map((l) => l.loggedBy).join(', ')}), `
      + `${issuedBy.size} nonce(s) handed out in all; ${across.length} accepted with a nonce the other host handed out`);
    assert.ok(challenges.length >= 1, 'the first proof, without a nonce, was challenged (MCPAuthDPoPNonce On)');
    for (const l of challenges) {
      assert.equal(l.payload.nonce, undefined, `only proofs without a nonce are challenged, never one with a nonce of either host (${l.loggedBy})`);
      assert.ok(l.nonceOut, 'the challenge hands out a nonce');
    }
    assert.ok(challenges.length <= 2, `at most one challenge per host, not one per host switch (${challenges.length}, ${switches} switches)`);
    for (const l of accepted) {
      assert.ok(issuedBy.has(l.payload.nonce), `${l.loggedBy} accepted a proof with a nonce one of the hosts handed out`);
    }
    assert.ok(across.length >= 1, 'a nonce handed out by one host was accepted by the other');
    // the error logs say the same: no nonce refused as stale or foreign on either host
    for (const h of ['gw1', 'gw2']) {
      const { text } = errorLog(h, errorsFrom[h]);
      assert.equal(count(text, 'nonce is stale or not the gateway\'s'), 0, `${h} refused no nonce of the fleet`);
    }
  } finally {
    printLog(t, 'the DPoP login and calls', log);
    await client?.close().catch(() => {});
  }
});

test('a DPoP proof used on one host is refused on the other, and of two hosts sent one proof at once, one takes it', async (t) => {
  assert.ok(login, 'the first test logged in');
  const log = [];
  let client;
  try {
    // one request of the SDK client through the front, its Authorization and DPoP captured
    client = await open(login, log);
    assert.equal(resultText(await client.callTool({ name: 'echo', arguments: { text: 'captured' } })), 'captured');
    const captured = log.filter((e) => e.rpc === 'tools/call' && e.status === 200).at(-1);
    assert.ok(captured?.headers?.dpop && /^DPoP /.test(captured.headers.authorization ?? ''), 'a tools/call with its token and proof');
    t.diagnostic(`captured: tools/call answered by ${captured.host}, proof ${captured.proofClaims.jti.slice(0, 8)}`);
    const errorsFrom = errorLogSizes();
    for (const h of ['gw1', 'gw2']) {
      const res = await fetch(`${HOSTS[h]}/dpop`, { method: 'POST', headers: captured.headers, body: captured.body });
      const body = await res.text();
      const www = res.headers.get('www-authenticate') ?? '';
      t.diagnostic(`the captured request replayed at ${h}: ${res.status} ${www} ${res.status === 200 ? '' : body.slice(0, 120)}`);
      assert.equal(res.headers.get('x-fleet-host'), h, 'the replay reached that host');
      assert.equal(res.status, 401, `${h} refuses the used proof`);
      assert.match(www, /^DPoP .*error="invalid_dpop_proof"/, 'as an invalid DPoP proof');
    }
    for (const h of ['gw1', 'gw2']) {
      const { text } = errorLog(h, errorsFrom[h]);
      assert.equal(count(text, 'DPoP proof replayed'), 1, `${h}'s error log: refused as replayed (the jti is in Redis), not for another reason`);
    }

    // a fresh proof, to one host and then the other
    const order = captured.host === 'gw1' ? ['gw2', 'gw1'] : ['gw1', 'gw2'];
    const proof = await freshProof(login);
    const firstUse = await dpopPost(HOSTS[order[0]], login, proof);
    const secondUse = await dpopPost(HOSTS[order[1]], login, proof);
    t.diagnostic(`a fresh proof at ${order[0]}: ${brief(firstUse)}; then at ${order[1]}: ${brief(secondUse)}`);
    assert.equal(firstUse.status, 200, `${order[0]} takes a fresh proof`);
    assert.equal(secondUse.status, 401, `${order[1]} refuses it afterwards`);
    assert.match(secondUse.www ?? '', /error="invalid_dpop_proof"/);

    // fresh proofs, each sent to both hosts at the same moment: one host takes each
    const pairs = await Promise.all(Array.from({ length: 6 }, async () => {
      const p = await freshProof(login);
      return Promise.all([dpopPost(HOSTS.gw1, login, p), dpopPost(HOSTS.gw2, login, p)]);
    }));
    pairs.forEach(([a, b], i) => t.diagnostic(`proof ${i + 1} at both hosts at once: gw1 ${a.status}, gw2 ${b.status}`));
    for (const [a, b] of pairs) {
      const statuses = [a.status, b.status].sort();
      assert.deepEqual(statuses, [200, 401], `exactly one host takes a proof sent to both at once (gw1 ${brief(a)}; gw2 ${brief(b)})`);
      assert.match((a.status === 401 ? a : b).www ?? '', /error="invalid_dpop_proof"/, 'the other refuses it as an invalid proof');
    }
  } finally {
    printLog(t, 'the captured request', log);
    await client?.close().catch(() => {});
  }
});

test('while Redis is down a DPoP request gets 503 with Retry-After, never 200; once it is back, fresh requests pass', async (t) => {
  assert.ok(login, 'the first test logged in');
  const log = [];
  let stopped = false;
  let client;
  try {
    client = await open(login, log);
    assert.equal(resultText(await client.callTool({ name: 'echo', arguments: { text: 'before' } })), 'before');
    const errorsFrom = errorLogSizes();
    await fleetCtl('redis-stop');
    stopped = true;
    const answers = [];
    for (const base of [HOSTS.gw1, HOSTS.gw2, FRONT, FRONT]) answers.push(await dpopPost(base, login, await freshProof(login)));
    t.diagnostic(`Redis stopped; fresh proofs at gw1, gw2, the front (twice): ${answers.map(brief).join('; ')}`);
    for (const a of answers) {
      assert.notEqual(a.status, 200, 'never a pass');
      assert.equal(a.status, 503, `${a.host}: the replay check cannot run: 503`);
      assert.match(a.retryAfter ?? '', /^[1-9][0-9]*$/, 'with Retry-After');
      assert.equal(JSON.parse(a.body).error, 'temporarily_unavailable');
    }
    assert.deepEqual(new Set(answers.map((a) => a.host)), new Set(['gw1', 'gw2']), 'on both hosts');
    // the SDK client gets no answer either
    await assert.rejects(client.callTool({ name: 'echo', arguments: { text: 'during' } }), 'a tool call fails while Redis is down');
    const during = log.filter((e) => e.rpc === 'tools/call').at(-1);
    assert.equal(during.status, 503, 'with the 503');
    for (const h of ['gw1', 'gw2']) {
      const { text } = errorLog(h, errorsFrom[h]);
      assert.ok(count(text, 'MCPAUTH0059: dpop-proof refused') >= 1, `${h}'s error log says why (MCPAUTH0059)`);
    }

    await fleetCtl('redis-start');
    stopped = false;
    const back = Date.now();
    // each host takes fresh proofs again once its processes reach Redis again; meanwhile only
    // 503s. (httpd's Redis client holds Redis for dead 5 s after each failure, and each
    // connection it pooled before the outage fails once: a process may take 5-20 s.)
    await Promise.all(['gw1', 'gw2'].map(async (h) => {
      const seen = [];
      const ok = await until(`200 from ${h} after Redis came back`, async () => {
        const a = await dpopPost(HOSTS[h], login, await freshProof(login));
        seen.push(a.status);
        assert.ok(a.status === 503 || a.status === 200, `${h} after Redis came back: 503 or 200, not ${brief(a)}`);
        return a.status === 200 && a;
      });
      t.diagnostic(`${h} after Redis came back: ${seen.filter((s) => s === 503).length} x 503, then 200 after ${((Date.now() - back) / 1000).toFixed(1)} s`);
      assert.equal(ok.host, h);
    }));
    // and the SDK client, through the front, whichever process of either host it meets
    const tries = [];
    await until('tool call of the SDK client through the front after Redis came back', async () => {
      try {
        return resultText(await client.callTool({ name: 'echo', arguments: { text: 'after' } })) === 'after';
      } catch (err) {
        const e = log.filter((x) => x.rpc === 'tools/call').at(-1);
        tries.push(`${e.host} ${e.status}`);
        assert.equal(e.status, 503, `only 503s meanwhile: ${err.message}`);
        return false;
      }
    });
    t.diagnostic(`the SDK client's tool call after Redis came back: ${[...tries, 'ok'].join(', ')}`);
  } finally {
    printLog(t, 'the outage', log);
    await client?.close().catch(() => {});
    // Processes this test did not reach still hold Redis connections from before the outage, and
    // would answer 503 for a while to whatever comes next (node runs the test files in name
    // order: fleet.test.mjs comes after this one): both gateways start afresh.
    const cleanup = (stopped ? fleetCtl('redis-start') : Promise.resolve()).then(() => fleetCtl('cold-start'));
    await cleanup.catch((err) => {
      t.diagnostic(`cleanup after the outage failed: ${err.message}`);
      throw err;
    });
  }
});
