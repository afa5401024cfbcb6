-- POST /token, grant_type=client_credentials, client_secret_basic.
-- BENCH_BASIC = base64("<client_id>:<secret>"), set by run.sh. Every 2xx body must carry an
-- access_token.
dofile("common.lua")
local basic = os.getenv("BENCH_BASIC") or error("BENCH_BASIC not set")
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY") or "grant_type=client_credentials&scope=api"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. basic
bench_expect('"access_token"')
