-- wrk script: start a new workflow per request, POST /<wf>/<key>/run with a
-- unique key.  Arguments after "--": workflow service name, key prefix
-- (unique per benchmark run, so no key repeats across runs).
local counter = 0
local threads = {}
local service, prefix  -- "tid" is a global set by setup()

setup = function(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

init = function(args)
  service = args[1] or "benchwf"
  prefix = args[2] or tostring(os.time())
end

request = function()
  counter = counter + 1
  local path = string.format("/%s/%s-%d-%d/run", service, prefix, tid,
    counter)
  return wrk.format("POST", path, {["Content-Type"] = "application/json"},
    "{}")
end

done = function(summary, latency, requests)
  io.write(string.format("errors status=%d connect=%d read=%d write=%d " ..
    "timeout=%d\n", summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout))
end
