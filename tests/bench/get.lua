-- GET <url>: discovery document, JWKS. BENCH_EXPECT (set by run.sh when CHECK_GET_BODIES=1)
-- is a substring every body must contain; without it no response is read in Lua (see common.lua).
dofile("common.lua")
local expect = os.getenv("BENCH_EXPECT")
if expect and expect ~= "" then bench_expect(expect) end
