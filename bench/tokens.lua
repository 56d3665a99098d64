-- wrk script: sends each request with the next token of a file (one token per line) as
-- "Authorization: Bearer <token>", cycling through the file.
--   wrk ... -s tokens.lua URL -- TOKEN_FILE [once THREADS | spread THREADS ROUND ROUNDS]
-- Each wrk thread starts at a different place in the file, so that threads do not send the
-- same token at the same time.
-- With "spread" (the distinct-token scenarios), thread k of THREADS starts at the k-th
-- THREADS-th of the file, moved on by a ROUNDS-th of that share in each ROUND, so that a run
-- sends no token twice while it sends fewer requests than the file has tokens, and the rounds
-- together cover the file; at the end the script prints, for each thread, "tokens.lua: sent
-- FIRST COUNT of N" (FIRST counted from 0, wrapping at N), from which bench/report.mjs counts
-- the distinct tokens the gateway has been sent.
-- With "once", thread k of THREADS sends the tokens k+1, k+1+THREADS, ... of the file, each once:
-- together one pass over the file. A thread prints "tokens.lua: pass done" and stops when the
-- answers to all of its tokens are in (bench/run then stops wrk with SIGINT: -d cannot end a run),
-- and at the end the script prints "first pass: N requests in S s", timed from the first
-- request to the last of those answers. (A connection that is answered after its thread has
-- sent every token sends the last token again, so wrk counts a few requests more.)
-- wrk 4 calls request() once on the first thread's script before any connection opens, to see
-- whether it pipelines (script_verify_request); in a pass that call is answered without using
-- up a token, or the thread's first token would never be sent.
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clk_id, bench_timespec *tp);
]]
local function now()
  local ts = ffi.new("bench_timespec")
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC: the same clock in every thread
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

local next_id, threads = 0, {}
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  threads[#threads + 1] = thread
end

local tokens, i, once, spread, verifying = {}, 0, false, false, false
sent = 0
function init(args)
  local file = args[1] or error("tokens.lua: no token file given (wrk ... -- FILE)")
  once = args[2] == "once"
  spread = args[2] == "spread"
  local nthreads = tonumber(args[3]) or 1
  local n = 0
  for line in io.lines(file) do
    if #line > 0 then
      n = n + 1
      if not once or (n - 1) % nthreads == (id or 0) then tokens[#tokens + 1] = line end
    end
  end
  if #tokens == 0 then error("tokens.lua: no tokens in " .. file) end
  if spread then
    local round, rounds = tonumber(args[4]) or 1, tonumber(args[5]) or 1
    local share = #tokens / nthreads
    i = math.floor((id or 0) * share + (round - 1) * share / rounds) % #tokens
    first_token, spread_tokens = i, #tokens
  elseif not once then
    i = ((id or 0) * 7919) % #tokens
  end
  verifying = (once or spread) and (id or 0) == 0
  pass_tokens = #tokens
  -- wrk reads every answer only for a script with a response function: only in a pass
  if once then response = pass_response end
end

function request()
  if verifying then
    verifying = false
    return wrk.format(nil, nil, { Authorization = "Bearer " .. tokens[1] })
  end
  if once then
    if i == 0 then pass_start = now() end
    if i >= #tokens then
      return wrk.format(nil, nil, { Authorization = "Bearer " .. tokens[#tokens] })
    end
  end
  i = i % #tokens + 1
  sent = sent + 1
  return wrk.format(nil, nil, { Authorization = "Bearer " .. tokens[i] })
end

local answers = 0
function pass_response(status, headers, body)
  answers = answers + 1
  if answers == #tokens then
    pass_end = now()
    io.write("tokens.lua: pass done\n")
    io.flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local first, last, n = nil, nil, 0
  for _, t in ipairs(threads) do
    local s, e = t:get("pass_start"), t:get("pass_end")
    if s and e then
      first = first and math.min(first, s) or s
      last = last and math.max(last, e) or e
      n = n + t:get("pass_tokens")
    end
  end
  if first then io.write(string.format("first pass: %d requests in %.3f s\n", n, last - first)) end
  for _, t in ipairs(threads) do
    local f = t:get("first_token")
    if f then io.write(string.format("tokens.lua: sent %d %d of %d\n", f, t:get("sent"), t:get("spread_tokens"))) end
  end
end
