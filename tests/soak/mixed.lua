-- wrk script for tests/soak/run.sh: every request is a GET of one of the paths given after
-- "--" on wrk's command line, picked at random (repeat a path to weight it).
-- Keep-alive, as wrk does by default.

local requests = {}

function init(args)
   for i, path in ipairs(args) do
      requests[i] = wrk.format("GET", path)
   end
   if #requests == 0 then
      requests[1] = wrk.format("GET", "/static/2k.bin")
   end
   math.randomseed(os.time())
end

function request()
   return requests[math.random(#requests)]
end
