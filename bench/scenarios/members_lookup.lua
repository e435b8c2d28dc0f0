-- wrk script: GET /api/v1/members/lookup/?kind=<kind>&value=<a random existing member's value>.
-- Arguments after `--`: the number of seeded members N and the kind (phone or card). Member
-- number n (0..N-1) has phone 139 + n as 8 digits and card VIP + n as 8 digits (bench/scenarios/members.py).
dofile("bench/harness/report.lua")

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  n_members = tonumber(args[1])
  kind = args[2]
  format = kind == "card" and "VIP%08d" or "139%08d"
  math.randomseed(os.time() * 1000 + (tid or 0))
end

function request()
  local value = string.format(format, math.random(0, n_members - 1))
  return wrk.format("GET", "/api/v1/members/lookup/?kind=" .. kind .. "&value=" .. value)
end
