-- bench.lua - the wrk script for every HTTP case of bench/run.
--
-- Configured by environment variables (wrk passes script arguments to the worker threads
-- only, and done() runs in the main Lua state, so the environment is the one channel all
-- states see):
--   BENCH_MODE     get_one | get_page | post | patch | embed_one | embed_all | rpc_one | tx3
--   BENCH_STATUS   the status every response must have (200, 201, 204)
--   BENCH_LEN      the exact body length every response must have
--   BENCH_RANGE    if set, the exact Content-Range header every response must have
--   BENCH_RATE     if set (req/s, all threads together), pace requests to this rate: each
--                  thread hands out send slots 1/rate apart (open-loop schedule, no bursts
--                  to catch up after a stall longer than one second)
--   BENCH_THREADS  wrk's -t (for the pacing)
--   BENCH_POST_OFFSET  added to the POST ids (default 0)
--   BENCH_TOKEN    if set, every request carries `Authorization: Bearer <BENCH_TOKEN>`
--   BENCH_OUT      file that done() writes its JSON summary to
--   BENCH_ID_MAX   highest random id for get_one/patch (default 100000); get_page uses
--                  BENCH_PAGE_MAX (default 99900) so that every page has 100 rows
--
-- A response with another status, another body length or another Content-Range counts as
-- bad; bench/run fails the case when any response was bad or any socket error occurred.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk, bench_timespec *ts);
]]

local mode = os.getenv("BENCH_MODE") or "get_one"
local want_status = tonumber(os.getenv("BENCH_STATUS") or "200")
local want_len = tonumber(os.getenv("BENCH_LEN") or "-1")
local want_range = os.getenv("BENCH_RANGE")
if want_range == "" then want_range = nil end
local rate = tonumber(os.getenv("BENCH_RATE") or "")
local id_max = tonumber(os.getenv("BENCH_ID_MAX") or "100000")
local page_max = tonumber(os.getenv("BENCH_PAGE_MAX") or "99900")

local json_hdr = { ["Content-Type"] = "application/json", ["Prefer"] = "return=minimal" }
local tx_hdr = { ["Content-Type"] = "application/json" }
local tx_body = '{"operations":[' ..
    '{"method":"POST","path":"/tables/bench_parent?select=id",' ..
    '"headers":{"Prefer":"return=representation"},"body":{"name":"parent","n":0}},' ..
    '{"method":"POST","path":"/tables/bench_child",' ..
    '"body":{"parent_id":{"$ref":"0/0/id"},"note":"child"}},' ..
    '{"method":"PATCH","path":"/tables/bench_parent?id=eq.${0/0/id}","body":{"n":1}}]}'
local get_hdr = nil
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
    get_hdr = { ["Authorization"] = "Bearer " .. token }
    json_hdr["Authorization"] = get_hdr["Authorization"]
    tx_hdr["Authorization"] = get_hdr["Authorization"]
end

-- ---------------------------------------------------------------- main state

local threads = {}
local n_threads = 0

function setup(thread)
    thread:set("tid", n_threads)
    n_threads = n_threads + 1
    table.insert(threads, thread)
end

-- ---------------------------------------------------------------- thread states

local ts = ffi.new("bench_timespec")
local function now_ms()
    ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
    return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local counter = 0
local post_base = 0
local interval_ms = nil
local next_slot = nil

function init(args)
    ok, bad, bad_status, bad_len, bad_range = 0, 0, -1, -1, ""
    math.randomseed(os.time() * 1000 + tid * 7919)
    -- POST ids: 100,000,000 per thread, far above the loaded rows and the bulk ranges, plus
    -- BENCH_POST_OFFSET so that a warm-up and the measured run do not collide.
    post_base = 100000000 * (tid + 1) + tonumber(os.getenv("BENCH_POST_OFFSET") or "0")
    if rate and rate > 0 then
        -- wrk.thread is set; the thread count is not, so it comes from the environment.
        local n = tonumber(os.getenv("BENCH_THREADS") or "2")
        interval_ms = 1000.0 * n / rate
    end
end

function request()
    if mode == "get_one" then
        return wrk.format("GET", "/tables/bench?id=eq." .. math.random(1, id_max), get_hdr)
    elseif mode == "get_page" then
        return wrk.format("GET", "/tables/bench?id=gt." .. math.random(1, page_max) ..
            "&order=id&limit=100", get_hdr)
    elseif mode == "post" then
        counter = counter + 1
        local body = '{"id":' .. (post_base + counter) .. ',"name":"post","score":500,' ..
            '"created_at":"2024-01-01T00:00:00+00:00","tags":["a","b"],"payload":{"n":1}}'
        return wrk.format("POST", "/tables/bench", json_hdr, body)
    elseif mode == "embed_one" then
        -- PostgREST's GETSingleEmbed (album ids 1001..1350 in bench/schema.sql)
        return wrk.format("GET", "/tables/album?select=*,track(*,genre(*))&album_id=eq." ..
            math.random(1001, 1350), get_hdr)
    elseif mode == "embed_all" then
        -- PostgREST's GETAllEmbed
        return wrk.format("GET", "/tables/album?select=*,track(*,genre(*))", get_hdr)
    elseif mode == "rpc_one" then
        return wrk.format("POST", "/tables/rpc/bench_get", { ["Content-Type"] = "application/json" },
            '{"p_id":' .. math.random(1, id_max) .. '}')
    elseif mode == "tx3" then
        -- POST /transaction: insert a parent, its child with a $ref to the parent's new key,
        -- update the parent by that key (bench/schema.sql, case 11)
        return wrk.format("POST", "/transaction", tx_hdr, tx_body)
    elseif mode == "patch" then
        return wrk.format("PATCH", "/tables/bench?id=eq." .. math.random(1, id_max), json_hdr,
            '{"score":500}')
    end
    error("unknown BENCH_MODE " .. mode)
end

if rate and rate > 0 then
    function delay()
        local now = now_ms()
        if next_slot == nil or next_slot < now - 1000 then
            next_slot = now
        end
        local d = next_slot - now
        next_slot = next_slot + interval_ms
        if d <= 0 then
            return 0
        end
        return math.ceil(d)
    end
end

function response(status, headers, body)
    local good = status == want_status
    if want_len >= 0 and #body ~= want_len then good = false end
    if want_range and headers["Content-Range"] ~= want_range then good = false end
    if good then
        ok = ok + 1
    else
        bad = bad + 1
        if bad_status < 0 then
            bad_status, bad_len = status, #body
            bad_range = headers["Content-Range"] or ""
        end
    end
end

-- ---------------------------------------------------------------- summary (main state)

local function jstr(s)
    return '"' .. tostring(s):gsub('[%c"\\]', function(c)
        return string.format("\\u%04x", string.byte(c))
    end) .. '"'
end

function done(summary, latency, requests)
    local t_ok, t_bad, sample = 0, 0, nil
    for _, t in ipairs(threads) do
        t_ok = t_ok + (t:get("ok") or 0)
        local b = t:get("bad") or 0
        t_bad = t_bad + b
        if b > 0 and not sample then
            sample = string.format('{"status":%d,"len":%d,"range":%s}', t:get("bad_status"),
                t:get("bad_len"), jstr(t:get("bad_range")))
        end
    end
    local e = summary.errors
    local secs = summary.duration / 1e6
    local out = string.format(
        '{"mode":%s,"requests":%d,"ok":%d,"bad":%d,"bad_sample":%s,' ..
        '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
        '"duration_s":%.3f,"rps":%.1f,"rate_target":%s,' ..
        '"latency_ms":{"mean":%.3f,"stdev":%.3f,"p50":%.3f,"p90":%.3f,"p99":%.3f,"max":%.3f}}\n',
        jstr(mode), summary.requests, t_ok, t_bad, sample or "null",
        e.connect, e.read, e.write, e.status, e.timeout,
        secs, t_ok / secs, rate and string.format("%.1f", rate) or "null",
        latency.mean / 1000, latency.stdev / 1000, latency:percentile(50) / 1000,
        latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000)
    local path = os.getenv("BENCH_OUT")
    if path and path ~= "" then
        local f = assert(io.open(path, "w"))
        f:write(out)
        f:close()
    else
        io.write(out)
    end
end
