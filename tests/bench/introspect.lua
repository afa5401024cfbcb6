-- POST /introspect (RFC 7662) of one valid JWT access token, authenticated as the resource
-- server's client. BENCH_BASIC = base64("<client_id>:<secret>"), BENCH_TOKEN = the token; set by
-- run.sh. A 2xx body without "active":true counts as invalid, so a token that silently went
-- inactive cannot pass for a fast run.
dofile("common.lua")
local basic = os.getenv("BENCH_BASIC") or error("BENCH_BASIC not set")
local token = os.getenv("BENCH_TOKEN") or error("BENCH_TOKEN not set")
wrk.method = "POST"
wrk.body = "token=" .. token
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. basic
bench_expect('"active":true')
