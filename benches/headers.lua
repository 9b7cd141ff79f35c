-- wrk: a request carrying 30 headers.
for i = 1, 30 do
  wrk.headers["X-Bench-Header-" .. i] = "value number " .. i .. " for the environ workload"
end
