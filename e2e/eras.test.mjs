// The two protocol eras behind the gateway's rules (issue 16).
//
// 2026-07-28 (the MCP SDK 2.x client against the SDK 2.x server at /mcp-v2): every request says
// its protocol version, method and name in headers (MCP-Protocol-Version, Mcp-Method, Mcp-Name,
// the name as =?base64?…?= when it is not plain ASCII), which must agree with the body (else 400,
// JSON-RPC -32020 to the request's id); a denied tool, prompt or resource looks like one the
// server does not have, as a 2026 server says it (-32602 "Tool X not found", "Prompt X not
// found", "Resource not found: URI"); subscriptions/listen naming a denied resource is refused
// whole; multi round-trip calls are judged at every round; filtered lists and reads lose their
// "public" cache scope, so a response cache shared by several users cannot hand one user's list to
// another.
// 2025 era (the SDK 1.x server at /mcp-policy): an Mcp-Session-Id belongs to the subject whose
// token created it; anyone else presenting it gets 404 (-32001), and the session lives on.
//
// /_seen on the 2.x server (loopback, not through httpd) tells what reached the server, so each
// refusal is shown to be the gateway's and not the server's own.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  InMemoryResponseCacheStore, UnauthorizedError, PROTOCOL_VERSION_META_KEY, CLIENT_INFO_META_KEY,
  CLIENT_CAPABILITIES_META_KEY,
} from '@modelcontextprotocol/client';
import { MemoryOAuthProvider, connectWithOAuth, disconnect, printLog, resultText } from './client.mjs';
import {
  MODERN, sdk2Login, sdk2Open, sdk2Authorize, claimsOf,
} from './sdk2.mjs';
import { POLICY_MCP_URL, V2_MCP_URL, seenSince, seenMark } from './testenv.mjs';

const MODERN_VERSION = '2026-07-28';
const names = (list) => list.map((x) => x.name).sort();
// What an ordinary user may see at /mcp-v2 (no secret_*, no café_secret, no admin_* without mcp:admin).
const ORDINARY_TOOLS = ['café_lookup', 'confirm_order', 'echo', 'touch_resource', 'whoami'];
const SHADOW_MARK = 'not-a-real-hash'; // in the server's fake /etc/shadow

/** Mcp-Name as the 2.x client writes it: plain when printable ASCII, else =?base64?…?=. */
function mcpName(value) {
  // eslint-disable-next-line no-control-regex
  const plain = value.length > 0 && value === value.trim() && /^[\t\x20-\x7e]*$/.test(value)
    && !(value.startsWith('=?base64?') && value.endsWith('?='));
  return plain ? value : `=?base64?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

// ---- logins: one per user, through the gateway, with the 2.x client in the 2026 era

const logins = new Map();
async function login(user) {
  if (!logins.has(user)) {
    const log = [];
    const provider = new MemoryOAuthProvider({ clientName: `eras e2e (${user})` });
    const result = await sdk2Login(V2_MCP_URL, provider, log, { username: user, clientOptions: MODERN });
    assert.equal(result.error, undefined, `login of ${user}: ${result.error} ${result.error_description}`);
    logins.set(user, { provider, log });
  }
  return logins.get(user);
}

const opened = [];
after(async () => {
  for (const c of opened) await c.close().catch(() => {});
});

/** A 2.x client of `user`, connected in the 2026 era. `options`: clientOptions, fetch, setup. */
async function open2(user, { clientOptions = {}, ...options } = {}) {
  const { provider, log } = await login(user);
  const { client, transport } = await sdk2Open(V2_MCP_URL, provider, log, { clientOptions: { ...MODERN, ...clientOptions }, ...options });
  opened.push(client);
  assert.equal(client.getProtocolEra(), 'modern', 'the 2026-07-28 era was negotiated through the gateway');
  return { client, transport, provider, log };
}

/** A fetch that records the MCP headers of each request in `seen` ({ method, name, version, status }). */
function headerSpy(seen, baseFetch = globalThis.fetch) {
  return async (input, init = {}) => {
    const h = new Headers(init.headers);
    const entry = { method: h.get('mcp-method'), name: h.get('mcp-name'), version: h.get('mcp-protocol-version') };
    seen.push(entry);
    const res = await baseFetch(input, init);
    entry.status = res.status;
    return res;
  };
}

// ---- raw 2026-07-28 requests (for what no SDK client would send)

let rawIds = 0;
const ENVELOPE = {
  [PROTOCOL_VERSION_META_KEY]: MODERN_VERSION,
  [CLIENT_INFO_META_KEY]: { name: 'raw-e2e', version: '1.0.0' },
  [CLIENT_CAPABILITIES_META_KEY]: {},
};

/** The JSON-RPC messages of an answer, JSON or SSE. */
function messagesOf(contentType, text) {
  if (/^application\/json/i.test(contentType ?? '')) {
    try { return [JSON.parse(text)].flat(); } catch { return []; }
  }
  if (/^text\/event-stream/i.test(contentType ?? '')) {
    const out = [];
    for (const event of text.split(/\r?\n\r?\n/)) {
      const data = event.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
      if (data) try { out.push(JSON.parse(data)); } catch { /* not JSON */ }
    }
    return out;
  }
  return [];
}

/**
 * POSTs one 2026-07-28 request with the headers the 2.x client would send, changed by `headers`
 * (a value of null removes that header). Returns { status, contentType, text, message } where
 * message is the JSON-RPC answer to this request's id (or the only message).
 */
async function rawModern(token, method, params = {}, { id = `raw-${++rawIds}`, headers = {}, url = V2_MCP_URL } = {}) {
  const body = { jsonrpc: '2.0', id, method, params: { ...params, _meta: { ...ENVELOPE, ...params._meta } } };
  const h = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    authorization: `Bearer ${token}`,
    'mcp-protocol-version': MODERN_VERSION,
    'mcp-method': method,
  };
  const nameField = { 'tools/call': 'name', 'prompts/get': 'name', 'resources/read': 'uri' }[method];
  if (nameField && typeof params[nameField] === 'string') h['mcp-name'] = mcpName(params[nameField]);
  for (const [k, v] of Object.entries(headers)) {
    if (v === null) delete h[k.toLowerCase()];
    else h[k.toLowerCase()] = v;
  }
  const res = await fetch(url, { method: 'POST', headers: h, body: JSON.stringify(body) });
  const text = await res.text();
  const contentType = res.headers.get('content-type');
  const messages = messagesOf(contentType, text);
  const message = messages.find((m) => m.id === id) ?? (messages.length === 1 ? messages[0] : undefined);
  return { id, status: res.status, contentType, text, message };
}

const describe = (r) => `HTTP ${r.status} ${r.contentType}: ${r.text.slice(0, 400)}`;

/** Asserts a JSON-RPC error answer: HTTP status, code, message (string or RegExp), the request's id. */
function assertRpcError(r, { status = 200, code, message, what }) {
  assert.equal(r.status, status, `${what}: ${describe(r)}`);
  assert.ok(r.message?.error, `${what}: a JSON-RPC error: ${describe(r)}`);
  assert.equal(r.message.error.code, code, `${what}: error code: ${describe(r)}`);
  if (message instanceof RegExp) assert.match(r.message.error.message, message, `${what}: ${describe(r)}`);
  else if (message !== undefined) assert.equal(r.message.error.message, message, `${what}: ${describe(r)}`);
  assert.equal(r.message.id, r.id, `${what}: the error answers the request's id: ${describe(r)}`);
}

/** Asserts that an SDK call was refused with a JSON-RPC error (code, message). */
async function assertRefused(promise, { code, message, data }, what) {
  let err;
  try {
    const result = await promise;
    assert.fail(`${what}: not refused, the call returned ${JSON.stringify(result).slice(0, 300)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    err = e;
  }
  assert.equal(err.code, code, `${what}: code (got ${err.code}: ${err.message})`);
  if (message instanceof RegExp) assert.match(err.message, message, what);
  else if (message !== undefined) assert.equal(err.message, message, what);
  if (data !== undefined) assert.deepEqual(err.data, data, `${what}: error data`);
  return err;
}

/** A promise for the next notification `method` whose params satisfy `pred` (rejects after ms). */
function nextNotification(client, method, pred = () => true, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${method} within ${ms} ms`)), ms);
    client.setNotificationHandler(method, (n) => {
      if (!pred(n.params)) return;
      clearTimeout(timer);
      resolve(n.params);
    });
  });
}

// ============================================================================================

test('2026-07-28 through the gateway: login, discover, lists filtered, whoami (the request sequence)', async (t) => {
  const { provider, log } = await login('erin');
  const spy = [];
  const { client } = await open2('erin', { fetch: headerSpy(spy) });
  try {
    assert.equal(client.getNegotiatedProtocolVersion(), MODERN_VERSION);
    assert.equal(claimsOf(provider.tokens().access_token).aud, V2_MCP_URL, 'the token is for /mcp-v2');
    assert.deepEqual(names((await client.listTools()).tools), ORDINARY_TOOLS,
      'tools/list: no secret_report, café_secret, secret_wipe, and no admin_reset without mcp:admin');
    const resources = (await client.listResources()).resources.map((r) => r.uri).sort();
    assert.deepEqual(resources, ['docs://café/menu', 'docs://readme'], 'resources/list: file:///etc/shadow is gone');
    assert.deepEqual(names((await client.listPrompts()).prompts), ['greeting'], 'prompts/list: secret_plan is gone');
    const me = JSON.parse(resultText(await client.callTool({ name: 'whoami', arguments: {} })));
    assert.equal(me.remoteUser, 'erin', 'the server sees the token\'s subject');
    assert.equal(me.authorizationReceived, false, 'the token does not reach the server');
    assert.ok(me.headerNames.includes('mcp-method') && me.headerNames.includes('mcp-name'), 'the 2026 headers reach the server');
    assert.ok(spy.every((e) => e.version === MODERN_VERSION || e.method === null), `every request says 2026-07-28: ${JSON.stringify(spy)}`);
    assert.ok(spy.some((e) => e.method === 'tools/call' && e.name === 'whoami'), 'Mcp-Name: whoami');
  } finally {
    printLog(t, 'SDK 2.x, 2026-07-28: login, then discover, lists and a call', log);
  }
});

test('2026-07-28: names beyond ASCII; denied tools, prompts and resources look absent (-32602)', async () => {
  const spy = [];
  const { client } = await open2('erin', { fetch: headerSpy(spy) });
  const mark = await seenMark();

  const lookup = await client.callTool({ name: 'café_lookup', arguments: { item: 'croissant' } });
  assert.equal(resultText(lookup), 'croissant: 2.50 € at the café');
  assert.ok(spy.some((e) => e.method === 'tools/call' && e.name === '=?base64?Y2Fmw6lfbG9va3Vw?='),
    `the client sent Mcp-Name: =?base64?Y2Fmw6lfbG9va3Vw?= (${JSON.stringify(spy.filter((e) => e.method === 'tools/call'))})`);

  await assertRefused(client.callTool({ name: 'café_secret', arguments: {} }),
    { code: -32602, message: 'Tool café_secret not found' }, 'café_secret (denied, beyond ASCII)');
  await assertRefused(client.callTool({ name: 'secret_report', arguments: {} }),
    { code: -32602, message: 'Tool secret_report not found' }, 'secret_report (denied)');

  const menu = await client.readResource({ uri: 'docs://café/menu' });
  assert.match(menu.contents[0].text, /^Menu of the café/, 'the resource beyond ASCII is read');
  assert.ok(spy.some((e) => e.method === 'resources/read' && e.name === mcpName('docs://café/menu')), 'its Mcp-Name in base64');
  assert.match((await client.readResource({ uri: 'docs://readme' })).contents[0].text, /allowed resource/);

  for (const uri of ['file:///etc/shadow', 'file:///tmp/../etc/shadow', 'FILE:///etc/shadow']) {
    await assertRefused(client.readResource({ uri }),
      { code: -32602, message: `Resource not found: ${uri}`, data: { uri } }, `read ${uri}`);
  }
  const greeting = await client.getPrompt({ name: 'greeting', arguments: { name: 'Ana' } });
  assert.match(greeting.messages[0].content.text, /Ana/);
  await assertRefused(client.getPrompt({ name: 'secret_plan' }),
    { code: -32602, message: 'Prompt secret_plan not found' }, 'secret_plan (denied)');

  const reached = await seenSince(mark);
  const leaked = reached.filter((e) => ['café_secret', 'secret_report', 'secret_plan'].includes(e.name) || /etc\/shadow/i.test(e.uri ?? ''));
  assert.deepEqual(leaked, [], 'no denied call reached the server');
  assert.ok(reached.some((e) => e.name === 'café_lookup' && e.mcpName === '=?base64?Y2Fmw6lfbG9va3Vw?=' && e.remoteUser === 'erin'),
    'café_lookup reached the server with its Mcp-Name unchanged');
});

test('2025 era at the same location: the legacy answers (Unknown tool, -32002)', async () => {
  const { provider, log } = await login('erin');
  const { client } = await sdk2Open(V2_MCP_URL, provider, log); // no negotiation: initialize
  opened.push(client);
  assert.equal(client.getProtocolEra(), 'legacy');
  assert.deepEqual(names((await client.listTools()).tools), ORDINARY_TOOLS);
  assert.equal(resultText(await client.callTool({ name: 'café_lookup', arguments: { item: 'tea' } })), 'tea: 2.50 € at the café');
  await assertRefused(client.callTool({ name: 'secret_report', arguments: {} }),
    { code: -32602, message: /Unknown tool: secret_report/ }, 'secret_report, 2025 era');
  await assertRefused(client.callTool({ name: 'café_secret', arguments: {} }),
    { code: -32602, message: /Unknown tool: café_secret/ }, 'café_secret, 2025 era');
  await assertRefused(client.readResource({ uri: 'file:///etc/shadow' }), { code: -32002 }, 'file:///etc/shadow, 2025 era');
});

test('2026-07-28: headers that disagree with the body: 400, -32020 to the request\'s id, never forwarded', async () => {
  const { provider } = await login('erin');
  const token = provider.tokens().access_token;
  const mark = await seenMark();

  // a well-formed request first: the headers the client sends pass
  const ok = await rawModern(token, 'tools/call', { name: 'echo', arguments: { text: 'raw' } });
  assert.equal(ok.status, 200, describe(ok));
  assert.equal(ok.message?.result?.content?.[0]?.text, 'raw', describe(ok));
  const okCafe = await rawModern(token, 'tools/call', { name: 'café_lookup', arguments: { item: 'jam' } });
  assert.equal(okCafe.message?.result?.content?.[0]?.text, 'jam: 2.50 € at the café', describe(okCafe));

  const cases = [
    ['Mcp-Name names a denied tool, the body an allowed one', 'tools/call', { name: 'echo', arguments: { text: 'x' } }, { 'mcp-name': 'secret_report' }],
    ['Mcp-Name names an allowed tool, the body a denied one', 'tools/call', { name: 'secret_report', arguments: {} }, { 'mcp-name': 'echo' }],
    ['Mcp-Name missing', 'tools/call', { name: 'echo', arguments: { text: 'x' } }, { 'mcp-name': null }],
    ['Mcp-Name in base64 of another name', 'tools/call', { name: 'café_lookup', arguments: { item: 'x' } }, { 'mcp-name': mcpName('café_secret') }],
    ['Mcp-Method disagrees', 'tools/call', { name: 'echo', arguments: { text: 'x' } }, { 'mcp-method': 'tools/list' }],
    ['Mcp-Method missing', 'tools/list', {}, { 'mcp-method': null }],
    ['MCP-Protocol-Version missing', 'tools/list', {}, { 'mcp-protocol-version': null }],
    ['MCP-Protocol-Version disagrees with the body', 'tools/list', {}, { 'mcp-protocol-version': '2025-06-18' }],
    ['resources/read: Mcp-Name another URI', 'resources/read', { uri: 'file:///etc/shadow' }, { 'mcp-name': 'docs://readme' }],
    ['prompts/get: Mcp-Name another prompt', 'prompts/get', { name: 'secret_plan' }, { 'mcp-name': 'greeting' }],
  ];
  const failures = [];
  for (const [what, method, params, headers] of cases) {
    const r = await rawModern(token, method, params, { headers });
    try {
      assertRpcError(r, { status: 400, code: -32020, what });
    } catch (e) {
      failures.push(e.message);
    }
  }
  const reached = (await seenSince(mark)).filter((e) => typeof e.id === 'string' && e.id.startsWith('raw-'));
  assert.deepEqual(failures, [], `every mismatch is a 400 with -32020:\n${failures.join('\n')}`);
  assert.deepEqual(reached.map((e) => e.id), [ok.id, okCafe.id], 'only the two well-formed requests reached the server');
});

test('2026-07-28: the SDK client recovers from a HeaderMismatch (refreshes tools/list, retries)', async (t) => {
  const { log } = await login('erin');
  const spy = [];
  let corrupted = 0;
  // Corrupts Mcp-Name once, on the first tools/call of echo: as if a proxy or a stale tool list
  // had made the header disagree with the body.
  const corrupting = async (input, init = {}) => {
    const h = new Headers(init.headers);
    if (corrupted === 0 && h.get('mcp-method') === 'tools/call' && h.get('mcp-name') === 'echo') {
      corrupted += 1;
      h.set('mcp-name', 'echo_v0');
      return globalThis.fetch(input, { ...init, headers: h });
    }
    return globalThis.fetch(input, init);
  };
  const start = log.length;
  const { client } = await open2('erin', { fetch: headerSpy(spy, corrupting) });
  const mark = await seenMark();
  const result = await client.callTool({ name: 'echo', arguments: { text: 'after a mismatch' } });
  assert.equal(resultText(result), 'after a mismatch');
  assert.equal(corrupted, 1);
  const calls = spy.filter((e) => e.method === 'tools/call' || e.method === 'tools/list');
  const seq = calls.map((e) => `${e.method} ${e.status}`);
  t.diagnostic(`client requests: ${seq.join(', ')}`);
  const i = seq.indexOf('tools/call 400');
  assert.ok(i >= 0, `a 400 for the corrupted call: ${seq}`);
  assert.deepEqual(seq.slice(i), ['tools/call 400', 'tools/list 200', 'tools/call 200'], 'the client refreshed tools/list and retried');
  const reached = await seenSince(mark);
  assert.deepEqual(reached.filter((e) => e.mcpName === 'echo_v0'), [], 'the gateway answered the mismatch, the server never saw it');
  printLog(t, 'SDK 2.x, HeaderMismatch recovery', log.slice(start));
});

test('2026-07-28: subscriptions/listen naming a denied resource is refused whole; an allowed one works', async () => {
  const { client } = await open2('erin');
  const mark = await seenMark();

  const refuse = async (uris) => {
    let sub;
    let err;
    try {
      sub = await client.listen({ resourceSubscriptions: uris }, { timeout: 10000 });
    } catch (e) {
      err = e;
    }
    if (sub) {
      const honored = JSON.stringify(sub.honoredFilter);
      await sub.close();
      assert.fail(`listen ${JSON.stringify(uris)} was acknowledged (honored ${honored})`);
    }
    assert.equal(err?.code, -32602, `listen ${JSON.stringify(uris)}: refused with -32602 (got ${err?.code}: ${err?.message})`);
    assert.match(err.message, /Resource not found: file:\/\/\/etc\/shadow/, 'the resource denial');
  };
  await refuse(['file:///etc/shadow']);
  await refuse(['docs://readme', 'file:///etc/shadow']);
  const reached = (await seenSince(mark)).filter((e) => e.rpc === 'subscriptions/listen');
  assert.deepEqual(reached, [], 'the refused listens never reached the server');

  const sub = await client.listen({ resourceSubscriptions: ['docs://café/menu'] }, { timeout: 10000 });
  try {
    assert.deepEqual(sub.honoredFilter.resourceSubscriptions, ['docs://café/menu'], 'acknowledged');
    const updated = nextNotification(client, 'notifications/resources/updated', (p) => p?.uri === 'docs://café/menu');
    const other = await open2('erin'); // another client changes the resource
    await other.client.callTool({ name: 'touch_resource', arguments: { uri: 'docs://café/menu' } });
    assert.equal((await updated).uri, 'docs://café/menu', 'the update arrived on the listen stream, through the gateway');
  } finally {
    await sub.close();
  }
  assert.equal(await sub.closed, 'local');
});

test('2026-07-28: multi round-trip calls: the allowed one completes after the input round, the denied one never starts', async () => {
  const elicitations = [];
  const { provider } = await login('erin');
  const { client } = await open2('erin', {
    clientOptions: { capabilities: { elicitation: { form: {} } } },
    setup: (c) => c.setRequestHandler('elicitation/create', async (req) => {
      elicitations.push(req.params.message);
      return { action: 'accept', content: { confirm: true } };
    }),
  });
  const mark = await seenMark();
  const placed = await client.callTool({ name: 'confirm_order', arguments: { item: 'croissant' } });
  assert.equal(resultText(placed), 'order placed: croissant');
  assert.deepEqual(elicitations, ['Confirm croissant?'], 'one input round, answered by the client');
  const rounds = (await seenSince(mark)).filter((e) => e.name === 'confirm_order');
  assert.deepEqual(rounds.map((e) => e.inputResponses), [false, true], 'the server saw the call, then the retry with inputResponses');

  await assertRefused(client.callTool({ name: 'secret_wipe', arguments: {} }),
    { code: -32602, message: 'Tool secret_wipe not found' }, 'secret_wipe (denied)');
  assert.equal(elicitations.length, 1, 'no input round for the denied tool');

  // a retry-shaped request (as if the first round had been allowed) is judged too
  const retry = await rawModern(provider.tokens().access_token, 'tools/call', {
    name: 'secret_wipe', arguments: {}, inputResponses: { confirm: { action: 'accept', content: { confirm: true } } }, requestState: 'round-1:',
  });
  assertRpcError(retry, { status: 200, code: -32602, message: 'Tool secret_wipe not found', what: 'the denied tool\'s retry round' });
  assert.deepEqual((await seenSince(mark)).filter((e) => e.name === 'secret_wipe'), [], 'secret_wipe never reached the server');
});

test('2026-07-28: one response cache shared by two users: the gateway makes filtered results private', async (t) => {
  const store = new InMemoryResponseCacheStore();
  const writes = [];
  const recordingStore = {
    get: (key) => store.get(key),
    set: (key, entry) => {
      writes.push({ method: key.method, params: key.params, partition: key.partition, scope: entry.scope });
      return store.set(key, entry);
    },
    delete: (key) => store.delete(key),
    evict: (method) => store.evict(method),
    clear: () => store.clear(),
  };
  const shared = (user) => ({ clientOptions: { responseCacheStore: recordingStore, cachePartition: user } });

  // alice steps up to mcp:admin (the gateway's 403 names it), then sees admin_reset
  const alice = await login('alice');
  let a = await open2('alice', shared('alice'));
  await assert.rejects(a.client.callTool({ name: 'admin_reset', arguments: {} }),
    (e) => e instanceof UnauthorizedError || e?.cause instanceof UnauthorizedError || /nauthorized/i.test(String(e)),
    'admin_reset asks alice for mcp:admin');
  const stepped = await sdk2Authorize(a.transport, alice.provider, alice.log, { username: 'alice' });
  assert.equal(stepped.error, undefined);
  assert.match(claimsOf(alice.provider.tokens().access_token).scope, /mcp:admin/);
  a = await open2('alice', shared('alice'));
  const aliceTools = names((await a.client.listTools(undefined, { cacheMode: 'refresh' })).tools);
  assert.deepEqual(aliceTools, [...ORDINARY_TOOLS, 'admin_reset'].sort(), 'alice (mcp:admin) sees admin_reset');
  const aliceWrite = writes.filter((w) => w.method === 'tools/list').at(-1);
  t.diagnostic(`alice's tools/list went into the shared store as ${JSON.stringify(aliceWrite)}`);

  // bob, same store, same server: must not be served alice's list
  const b = await open2('bob', shared('bob'));
  const mark = await seenMark();
  const bobTools = names((await b.client.listTools()).tools);
  assert.deepEqual(bobTools, ORDINARY_TOOLS, 'bob\'s listTools() with the shared store shows only what bob may see');
  assert.ok((await seenSince(mark)).some((e) => e.rpc === 'tools/list' && e.remoteUser === 'bob'),
    'bob\'s client asked the server (alice\'s entry was not one it could reuse)');
  assert.equal(aliceWrite?.scope, 'private', 'alice\'s filtered list was stored as private (the gateway rewrote "public")');

  // the answers themselves
  const token = alice.provider.tokens().access_token;
  for (const [method, params] of [['tools/list', {}], ['prompts/list', {}], ['resources/list', {}], ['resources/read', { uri: 'docs://readme' }]]) {
    const r = await rawModern(token, method, params);
    assert.equal(r.status, 200, `${method}: ${describe(r)}`);
    assert.equal(r.message?.result?.cacheScope, 'private', `${method}: cacheScope private in a location with rules: ${describe(r)}`);
    assert.equal(typeof r.message.result.ttlMs, 'number', `${method}: ttlMs kept`);
  }
});

test('2025 era, SDK 1.x server: an Mcp-Session-Id belongs to its subject (404 -32001 for anyone else)', async (t) => {
  const alice = await connectWithOAuth(POLICY_MCP_URL, { username: 'alice', provider: new MemoryOAuthProvider({ clientName: 'eras e2e sessions (alice)' }) });
  const bob = await connectWithOAuth(POLICY_MCP_URL, { username: 'bob', provider: new MemoryOAuthProvider({ clientName: 'eras e2e sessions (bob)' }) });
  try {
    const sid = alice.transport.sessionId;
    assert.ok(sid, 'alice has a session');
    assert.notEqual(bob.transport.sessionId, sid);
    const bobToken = bob.provider.tokens().access_token;
    assert.equal(claimsOf(bobToken).sub, 'bob');
    const version = alice.transport.protocolVersion ?? '2025-06-18';
    const common = { authorization: `Bearer ${bobToken}`, 'mcp-session-id': sid, 'mcp-protocol-version': version };

    const post = await fetch(POLICY_MCP_URL, {
      method: 'POST',
      headers: { ...common, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 'bob-1', method: 'tools/call', params: { name: 'whoami', arguments: {} } }),
    });
    const postText = await post.text();
    t.diagnostic(`bob's POST with alice's session: ${post.status} ${postText.slice(0, 300)}`);
    assert.equal(post.status, 404, `bob's POST with alice's session: ${post.status} ${postText.slice(0, 300)}`);
    const body = JSON.parse(postText);
    assert.equal(body.error?.code, -32001, postText);
    assert.match(body.error.message, /Session not found/, postText);

    const get = await fetch(POLICY_MCP_URL, { headers: { ...common, accept: 'text/event-stream' } });
    const getText = get.status === 404 ? await get.text() : (await get.body?.cancel(), '');
    assert.equal(get.status, 404, `bob's GET (stream) with alice's session: ${get.status}`);
    assert.equal(JSON.parse(getText).error?.code, -32001);

    const del = await fetch(POLICY_MCP_URL, { method: 'DELETE', headers: common });
    const delText = await del.text();
    assert.equal(del.status, 404, `bob's DELETE of alice's session: ${del.status} ${delText.slice(0, 200)}`);

    // alice's session lives on; bob's own works
    assert.ok(names((await alice.client.listTools()).tools).includes('echo'), 'alice\'s next request works');
    const me = JSON.parse(resultText(await alice.client.callTool({ name: 'whoami', arguments: {} })));
    assert.equal(me.remoteUser, 'alice');
    assert.equal(JSON.parse(resultText(await bob.client.callTool({ name: 'whoami', arguments: {} }))).remoteUser, 'bob');
  } finally {
    await disconnect(alice);
    await disconnect(bob);
  }
});
