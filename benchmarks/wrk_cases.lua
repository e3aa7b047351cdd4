-- wrk script of benchmarks/cases.py: POST /v1/cases, every request a new case (or, as the peer,
-- GET /v1/locate of a random point: a read of the same service).
--
--   wrk -t 2 -c 32 -d 30s -s benchmarks/wrk_cases.lua http://127.0.0.1:PORT -- \
--       MODE KEY TAG RATE THREADS OUT_DIR X0 Y0 WIDTH HEIGHT CATEGORY...
--
-- MODE: cases or locate. KEY: the API key (X-API-Key). TAG: prefix of the run's descriptions and
-- Idempotency-Keys. RATE: requests/s offered over all threads; 0 is flat out (closed loop: a
-- connection sends its next request as soon as the previous one is answered). THREADS: wrk's -t.
-- OUT_DIR: each thread writes "description id" of every 201 it got to OUT_DIR/acked-THREAD.txt
-- (the driver checks that each is stored, under that id). X0 Y0 WIDTH HEIGHT: the box (degrees)
-- locations are drawn from. CATEGORY...: the categories drawn from.
--
-- Every case is unique: its description and Idempotency-Key are TAG-tTHREAD-N.
--
-- Pacing (RATE > 0): each thread offers RATE/THREADS requests/s on a fixed schedule (slot k at
-- t0 + k * interval). A free connection claims the next slot and waits for it (wrk's delay()); a
-- slot no connection was free for goes out as soon as one is. wrk times a request from its send,
-- so the k-th send of a thread is checked against the k-th slot: how many went out more than 1 ms
-- late, how late at worst, and from that a bound on the p99 as clients on the schedule see it
-- (latency counted from the slot; see done()).
--
-- done() prints one line "WRK_JSON {...}" (latencies in microseconds) for the driver.

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } gg_timespec;
int clock_gettime(int clk_id, gg_timespec *tp);
]])
local ts = ffi.new("gg_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local threads = {}
local nthreads = 0

function setup(thread)
  nthreads = nthreads + 1
  thread:set("id", nthreads)
  table.insert(threads, thread)
end

function init(args)
  mode, key, tag = args[1], args[2], args[3]
  rate = tonumber(args[4])
  local nthreads_all = tonumber(args[5])
  out_dir = args[6]
  x0, y0, width, height = tonumber(args[7]), tonumber(args[8]), tonumber(args[9]), tonumber(args[10])
  ok_status = mode == "cases" and 201 or 200
  categories = {}
  for i = 11, #args do
    categories[#categories + 1] = args[i]
  end
  n, created, failed = 0, 0, 0
  late, late_ms_max = 0, 0
  queue, q_head, q_tail = {}, 1, 0
  math.randomseed(id * 7919)
  if mode == "cases" then
    acked = io.open(out_dir .. "/acked-" .. id .. ".txt", "w")
  end
  if rate > 0 then
    interval = 1000 * nthreads_all / rate -- ms between this thread's slots
    next_slot = nil
  end
end

function delay()
  if rate <= 0 then
    return 0
  end
  local t = now_ms()
  if next_slot == nil then
    next_slot = t
  end
  local slot = next_slot
  next_slot = next_slot + interval
  q_tail = q_tail + 1
  queue[q_tail] = slot
  return slot > t and math.floor(slot - t + 0.5) or 0
end

-- the k-th send of this thread against the k-th slot of its schedule (called as a request goes out)
local function keep_time()
  if q_head > q_tail then
    return
  end
  local slot = queue[q_head]
  queue[q_head] = nil
  q_head = q_head + 1
  local behind = now_ms() - slot
  if behind > 1 then
    late = late + 1
  end
  if behind > late_ms_max then
    late_ms_max = behind
  end
end

function request()
  n = n + 1
  if rate > 0 then
    keep_time()
  end
  local lon, lat = x0 + math.random() * width, y0 + math.random() * height
  if mode == "locate" then
    return wrk.format("GET", string.format("/v1/locate?lon=%.6f&lat=%.6f", lon, lat))
  end
  local name = tag .. "-t" .. id .. "-" .. n
  local body = string.format(
    '{"category":"%s","description":"%s","lon":%.6f,"lat":%.6f,"channel":"app"}',
    categories[math.random(#categories)],
    name,
    lon,
    lat
  )
  return wrk.format("POST", "/v1/cases", {
    ["Content-Type"] = "application/json",
    ["X-API-Key"] = key,
    ["Idempotency-Key"] = name,
  }, body)
end

function response(status, headers, body)
  if status ~= ok_status then
    failed = failed + 1
  elseif mode == "cases" then
    created = created + 1
    local case_id = string.match(body, '"id":(%d+)')
    local name = string.match(body, '"description":"([^"]*)"')
    acked:write(name, " ", case_id, "\n")
  else
    created = created + 1
  end
end

function done(summary, latency, requests)
  local out = {
    requests = summary.requests,
    duration_us = summary.duration,
    connect_errors = summary.errors.connect,
    read_errors = summary.errors.read,
    write_errors = summary.errors.write,
    timeouts = summary.errors.timeout,
    non_2xx = summary.errors.status,
    p50_us = latency:percentile(50),
    p90_us = latency:percentile(90),
    p99_us = latency:percentile(99),
    p999_us = latency:percentile(99.9),
    max_us = latency.max,
    mean_us = latency.mean,
  }
  local created_all, failed_all, late_all, late_max, sent, slots = 0, 0, 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    created_all = created_all + thread:get("created")
    failed_all = failed_all + thread:get("failed")
    sent = sent + thread:get("n")
    late_all = late_all + thread:get("late")
    slots = slots + thread:get("q_tail")
    late_max = math.max(late_max, thread:get("late_ms_max"))
  end
  out.created = created_all
  out.failed = failed_all
  out.sent = sent
  out.late_sends = late_all
  out.late_ms_max = late_max
  out.slots = slots
  -- paced: request k's latency from its slot (what a client on the schedule waits) is wrk's, from
  -- its send, plus how late that send was: at most late_ms_max, and at most 1 ms but for the
  -- late_sends. So the p99 from the schedule is at most wrk's p99 + late_ms_max, and (late_sends
  -- under 1%) at most wrk's quantile 99 + late share, + 1 ms: the lower of the two is reported.
  local paced = #threads > 0 and threads[1]:get("rate") > 0 -- done() runs in wrk's main state: no init()
  if paced then
    local bound = out.p99_us + 1000 * late_max
    if late_all < 0.01 * summary.requests then
      bound = math.min(bound, latency:percentile(99 + 100 * late_all / summary.requests) + 1000)
    end
    out.p99_schedule_max_us = bound
  end
  local parts = {}
  for k, v in pairs(out) do
    parts[#parts + 1] = string.format('"%s":%.17g', k, v)
  end
  io.write("WRK_JSON {", table.concat(parts, ","), "}\n")
end
