-- wrk script: POST the JSON string "x" to a no-op handler and report
-- errors in a form bench-restate parses.
wrk.method = "POST"
wrk.body = '"x"'
wrk.headers["Content-Type"] = "application/json"

done = function(summary, latency, requests)
  io.write(string.format("errors status=%d connect=%d read=%d write=%d " ..
    "timeout=%d\n", summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout))
end
