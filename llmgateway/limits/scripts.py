"""The Lua scripts the Redis store runs: each is atomic on the server and reads the server's clock
(``TIME``), so replicas with skewed clocks still agree. TATs are absolute server seconds, written
with microsecond precision (Lua's default number format keeps only 14 digits). A key lives until
its TAT has passed, when it is equivalent to an absent one."""

from __future__ import annotations

# KEYS: requests TAT, tokens TAT.
# ARGV: seconds per request (0: no rpm limit), request tolerance (burst * seconds per request),
#       seconds for this request's tokens, token tolerance (0: no tpm limit), max wait.
# Returns {admitted (1/0), request wait, token wait}; waits as strings (Redis truncates numbers).
ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local request_tolerance = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local token_tolerance = tonumber(ARGV[4])
local max_wait = tonumber(ARGV[5])
local requests, tokens = now, now
local request_wait, token_wait = 0, 0
if interval > 0 then
  requests = math.max(tonumber(redis.call('GET', KEYS[1])) or now, now)
  request_wait = math.max(requests + interval - request_tolerance - now, 0)
end
if token_tolerance > 0 then
  tokens = math.max(tonumber(redis.call('GET', KEYS[2])) or now, now)
  token_wait = math.max(tokens + cost - token_tolerance - now, 0)
end
local wait = math.max(request_wait, token_wait)
if wait < 1e-9 then
  wait = 0
elseif wait > max_wait then
  return {0, string.format('%.6f', request_wait), string.format('%.6f', token_wait)}
end
local at = now + wait
if interval > 0 then
  local tat = math.max(requests, at) + interval
  redis.call('SET', KEYS[1], string.format('%.6f', tat), 'PX', math.ceil((tat - now) * 1000) + 1000)
end
if cost > 0 then
  local tat = math.max(tokens, at) + cost
  redis.call('SET', KEYS[2], string.format('%.6f', tat), 'PX', math.ceil((tat - now) * 1000) + 1000)
end
return {1, string.format('%.6f', wait), '0'}
"""

# KEYS: TATs to move; ARGV: seconds to move each by. Positive: a charge from now on (debt);
# negative: a refund of what has not yet drained.
ADJUST = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
for i, key in ipairs(KEYS) do
  local delta = tonumber(ARGV[i])
  local tat = tonumber(redis.call('GET', key))
  if delta > 0 then
    tat = math.max(tat or now, now) + delta
  elseif tat then
    tat = tat + delta
  end
  if tat and tat > now then
    redis.call('SET', key, string.format('%.6f', tat), 'PX', math.ceil((tat - now) * 1000) + 1000)
  elseif tat then
    redis.call('DEL', key)
  end
end
return 1
"""
