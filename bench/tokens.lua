-- wrk script: sends each request with the next token of a file (one token per line) as
-- "Authorization: Bearer <token>", cycling through the file.
--   wrk ... -s tokens.lua URL -- TOKEN_FILE
-- Each wrk thread starts at a different place in the file, so that threads do not send the
-- same token at the same time.
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

local tokens, i = {}, 0
function init(args)
  local file = args[1] or error("tokens.lua: no token file given (wrk ... -- FILE)")
  for line in io.lines(file) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  if #tokens == 0 then error("tokens.lua: no tokens in " .. file) end
  i = ((id or 0) * 7919) % #tokens
end

function request()
  i = i % #tokens + 1
  return wrk.format(nil, nil, { Authorization = "Bearer " .. tokens[i] })
end
