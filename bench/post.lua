-- wrk script used by scripts/bench.sh: every request is a POST of the JSON
-- file named by the BODY environment variable.
--   BODY=internal/bench/requests/1x3.json wrk -t1 -c16 -d5s --latency -s bench/post.lua URL
local path = os.getenv("BODY")
assert(path, "post.lua: set BODY to the request file")
local file = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
-- AUTHZ, when set, is sent as the Authorization header (the ours-auth lane).
local authz = os.getenv("AUTHZ")
if authz and authz ~= "" then
  wrk.headers["Authorization"] = authz
end
