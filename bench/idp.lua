-- The bench identity provider's token introspection endpoint (RFC 7662) and token exchange
-- endpoint (RFC 8693), in mod_lua: fast, so that what is measured is the gateway asking, not the
-- IdP answering. The client must authenticate with client_secret_basic (RFC 6749 §2.3.1) as the
-- Authorization header in the BENCH_IDP_BASIC variable (SetEnv) says.
-- handle (introspection) judges tokens by prefix, as mint.mjs makes them:
--   bench-opaque-*    active, for this gateway's audience
--   bench-wrongaud-*  active, for another audience
--   anything else     {"active":false}
-- exchange (the token endpoint) takes only the token-exchange grant for an access token with the
-- audience in BENCH_EXCHANGE_AUD, and trusts the subject token without checking it (the gateway
-- has): it answers a JWT-shaped bearer token for that audience, 300 s, whose jti is the SHA-1 of
-- the subject token, so that a backend can tell which client token it was issued for.
-- Its access log (the IdP's, shared with jwks.json) counts the questions and the exchanges, the
-- latter with the SHA-1 of the client token each traded.
local function answer(r, status, body)
  r.status = status
  r.content_type = "application/json"
  r.headers_out["Cache-Control"] = "no-store"
  r:puts(body)
  return apache2.OK
end

local function quote(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

-- nil when r is a POST by the gateway's client, else the answer already sent
local function refuse_client(r)
  if r.method ~= "POST" then
    return answer(r, 405, '{"error":"invalid_request"}')
  end
  local want = r.subprocess_env["BENCH_IDP_BASIC"]
  if want == nil or r.headers_in["Authorization"] ~= want then
    r.err_headers_out["WWW-Authenticate"] = 'Basic realm="bench-idp"'
    return answer(r, 401, '{"error":"invalid_client"}')
  end
  return nil
end

function handle(r)
  local no = refuse_client(r)
  if no then return no end
  local args = r:parsebody(16384) or {}
  local token = args["token"]
  if type(token) ~= "string" then
    return answer(r, 400, '{"error":"invalid_request"}')
  end
  local aud
  if token:sub(1, 13) == "bench-opaque-" then
    aud = r.subprocess_env["BENCH_AUD"]
  elseif token:sub(1, 15) == "bench-wrongaud-" then
    aud = r.subprocess_env["BENCH_AUD"] .. "/other"
  else
    return answer(r, 200, '{"active":false}')
  end
  local now = os.time()
  return answer(r, 200, table.concat({
    '{"active":true,"iss":', quote(r.subprocess_env["BENCH_ISS"]),
    ',"aud":', quote(aud),
    ',"sub":', quote("user-" .. token:sub(-8)),
    ',"client_id":"bench","scope":"openid mcp:tools","token_type":"Bearer"',
    ',"iat":', tostring(now - 60), ',"exp":', tostring(now + 3600), '}',
  }))
end

local function b64url(r, s)
  return (r:base64_encode(s):gsub("%+", "-"):gsub("/", "_"):gsub("=", ""))
end

local TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
local ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"
local jose_header -- per interpreter (LuaScope thread): made once

function exchange(r)
  local no = refuse_client(r)
  if no then return no end
  local args = r:parsebody(16384) or {}
  if args["grant_type"] ~= TOKEN_EXCHANGE then
    return answer(r, 400, '{"error":"unsupported_grant_type"}')
  end
  local subject = args["subject_token"]
  if type(subject) ~= "string" or subject == "" or args["subject_token_type"] ~= ACCESS_TOKEN
    or (args["requested_token_type"] ~= nil and args["requested_token_type"] ~= ACCESS_TOKEN) then
    return answer(r, 400, '{"error":"invalid_request"}')
  end
  local aud = r.subprocess_env["BENCH_EXCHANGE_AUD"]
  if args["audience"] ~= aud then
    return answer(r, 400, '{"error":"invalid_target"}')
  end
  local digest = r:sha1(subject)
  local now = os.time()
  jose_header = jose_header or b64url(r, '{"alg":"RS256","typ":"at+jwt","kid":"bench-exchange"}')
  local claims = table.concat({
    '{"iss":', quote(r.subprocess_env["BENCH_ISS"]), ',"aud":', quote(aud),
    ',"sub":"exchanged-', digest:sub(1, 12), '","act":{"sub":"bench-gateway"}',
    ',"scope":', quote(args["scope"] or ""), ',"jti":"', digest, '"',
    ',"iat":', tostring(now), ',"exp":', tostring(now + 300), '}',
  })
  -- the length of an RS256 signature (256 bytes, 342 in base64url), never checked by anyone
  local signature = string.rep(digest, 9):sub(1, 342)
  r.notes["bench-subject"] = digest -- the access log's last field: which client token was traded
  return answer(r, 200, table.concat({
    '{"access_token":"', jose_header, ".", b64url(r, claims), ".", signature, '"',
    ',"token_type":"Bearer","issued_token_type":"', ACCESS_TOKEN, '","expires_in":300}',
  }))
end
