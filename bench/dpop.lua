-- wrk script: every request carries a DPoP-bound token ("Authorization: DPoP <token>") and a
-- proof of its own ("DPoP: <proof>"), as proofs.mjs minted them for this run.
--   wrk -tT ... -s dpop.lua URL -- TOKEN_FILE PROOF_PREFIX [cycle]
-- Thread k reads PROOF_PREFIX.k ("INDEX PROOF" a line, INDEX the token's 0-based line in
-- TOKEN_FILE), so no two threads share a proof, and sends each proof once. When a thread has sent
-- all of its proofs it prints "dpop.lua: proofs exhausted" and stops (bench/run then ends the run
-- and warns), unless "cycle" is given (for a location that does not check proofs).
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

local tokens, proofs, which, i, cycle = {}, {}, {}, 0, false
function init(args)
  local tfile = args[1] or error("dpop.lua: no token file given (wrk ... -- TOKENS PROOFS)")
  local pfile = (args[2] or error("dpop.lua: no proof prefix given")) .. "." .. (id or 0)
  cycle = args[3] == "cycle"
  for line in io.lines(tfile) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  for line in io.lines(pfile) do
    local n, proof = line:match("^(%d+) (.+)$")
    if n then
      which[#which + 1] = tonumber(n) + 1
      proofs[#proofs + 1] = proof
    end
  end
  if #proofs == 0 then error("dpop.lua: no proofs in " .. pfile) end
end

local stopped = false
function request()
  if i >= #proofs then
    if cycle then
      i = 0
    elseif not stopped then
      stopped = true
      io.write("dpop.lua: proofs exhausted\n")
      io.flush()
      wrk.thread:stop()
    end
  end
  if i < #proofs then i = i + 1 end
  return wrk.format(nil, nil, { Authorization = "DPoP " .. tokens[which[i]], DPoP = proofs[i] })
end
