-- wrk script: POST /api/v1/member-codes/resolve/ {"code": ...} with a random code from a file of
-- fresh member codes (one per line, issued by `python -m bench step members codes` just before the run;
-- codes expire after 90 s). Argument after `--`: the file. The session cookie, the CSRF cookie
-- and the X-CSRFToken header come from wrk's -H options.
dofile("bench/harness/report.lua")

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  codes = {}
  for line in io.lines(args[1]) do
    if #line > 0 then codes[#codes + 1] = line end
  end
  math.randomseed(os.time() * 1000 + (tid or 0))
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local code = codes[math.random(1, #codes)]
  return wrk.format("POST", "/api/v1/member-codes/resolve/", nil, '{"code": "' .. code .. '"}')
end
