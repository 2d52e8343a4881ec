-- wrk script: GET {prefix}{1..n}; one request in ten asks for a fresh answer (Cache-Control: max-age=0).
local prefix, n, counter = "/prod/k/", 100, 0
function init(args)
  prefix = args[1] or prefix
  n = tonumber(args[2] or n)
end
function request()
  counter = counter + 1
  local path = prefix .. math.random(1, n)
  if counter % 10 == 0 then
    return wrk.format("GET", path, { ["Cache-Control"] = "max-age=0" })
  end
  return wrk.format("GET", path)
end
