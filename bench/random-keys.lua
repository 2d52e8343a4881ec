-- wrk script: GET {prefix}{1..n} uniformly at random. Usage: wrk ... -s random-keys.lua -- /prod/k/ 10000
local prefix, n = "/prod/k/", 1000
function init(args)
  prefix = args[1] or prefix
  n = tonumber(args[2] or n)
end
function request()
  return wrk.format("GET", prefix .. math.random(1, n))
end
