-- Shared by every wrk script of bench/run.sh: prints one machine-readable line that run.sh
-- parses. wrk latency values are microseconds.
--
--   non2xx   responses whose status is not 2xx. With a body check (bench_expect) every response
--            is read in Lua; without one, wrk's own count (status >= 400) is used, because a Lua
--            response callback costs wrk about 50 % more CPU per request, which on the cheap GET
--            rows would be taken from the server. run.sh also counts non-2xx on the server side
--            (/metrics) for every row, so 1xx/3xx cannot slip through either way.
--   invalid  2xx responses whose body lacks what the endpoint must return; "-" when unchecked.
--
-- A run with non2xx or invalid > 0 is broken, however fast it looks; run.sh flags it.

local threads = {}
local expect = nil

function setup(thread) table.insert(threads, thread) end

non2xx = 0
invalid = 0

-- Reads every response: counts non-2xx, and 2xx bodies without substring `s`.
function bench_expect(s)
  expect = s
  response = function(status, headers, body)
    if status < 200 or status > 299 then
      non2xx = non2xx + 1
    elseif not string.find(body, expect, 1, true) then
      invalid = invalid + 1
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local bad, inv = 0, 0
  for _, t in ipairs(threads) do
    bad = bad + (t:get("non2xx") or 0)
    inv = inv + (t:get("invalid") or 0)
  end
  local invs = tostring(inv)
  if not expect then bad, invs = e.status, "-" end
  io.write(string.format(
    "RESULT rps=%.1f p50_ms=%.3f p99_ms=%.3f requests=%d non2xx=%d invalid=%s sock_errors=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, bad, invs, e.connect + e.read + e.write + e.timeout))
end
