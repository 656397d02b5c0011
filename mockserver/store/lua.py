"""The Redis store's server-side scripts: each atomic operation is one Lua script.

Every script is its own body after the :data:`LIBRARY` helpers it calls
(:func:`script_source`: only those, found by name, so a call does not define
forty functions it never uses: that cost a poll's script about 50 µs of the
Redis server's time). Scripts
build key names from the prefix (``ARGV[1]``, ending in ``:``) because what
they touch depends on the data (a victim evicted, a job promoted); this
targets one Redis server (or a primary with replicas), not Redis Cluster.

Numbers that leave a script are strings: Redis truncates a Lua number
reply to an integer, and mock times have fractions. Money is integer units
(``interface.MONEY_SCALE`` places) as decimal strings, added and compared
with the exact big-integer helpers below: Lua numbers are doubles, exact only
below 2**53.
"""

from __future__ import annotations

import re

LIBRARY = r"""
local P = ARGV[1]
local BASE = 10000000
local TERMINAL = {succeeded = true, failed = true, cancelled = true}

local function num(x) return string.format('%.17g', x) end

local function big(s)
  local neg = false
  if string.sub(s, 1, 1) == '-' then neg = true; s = string.sub(s, 2) end
  local limbs = {}
  local i = #s
  while i > 0 do
    local j = math.max(1, i - 6)
    limbs[#limbs + 1] = tonumber(string.sub(s, j, i))
    i = j - 1
  end
  while #limbs > 1 and limbs[#limbs] == 0 do limbs[#limbs] = nil end
  if #limbs == 0 then limbs[1] = 0 end
  if #limbs == 1 and limbs[1] == 0 then neg = false end
  return {neg = neg, l = limbs}
end
local function cmp_abs(a, b)
  if #a ~= #b then if #a < #b then return -1 else return 1 end end
  for i = #a, 1, -1 do
    if a[i] ~= b[i] then if a[i] < b[i] then return -1 else return 1 end end
  end
  return 0
end
local function add_abs(a, b)
  local r, carry = {}, 0
  for i = 1, math.max(#a, #b) do
    local s = (a[i] or 0) + (b[i] or 0) + carry
    if s >= BASE then r[i] = s - BASE; carry = 1 else r[i] = s; carry = 0 end
  end
  if carry > 0 then r[#r + 1] = carry end
  return r
end
local function sub_abs(a, b)
  local r, borrow = {}, 0
  for i = 1, #a do
    local s = a[i] - (b[i] or 0) - borrow
    if s < 0 then s = s + BASE; borrow = 1 else borrow = 0 end
    r[i] = s
  end
  while #r > 1 and r[#r] == 0 do r[#r] = nil end
  return r
end
local function norm(x)
  if #x.l == 1 and x.l[1] == 0 then x.neg = false end
  return x
end
local function badd(x, y)
  if x.neg == y.neg then return norm({neg = x.neg, l = add_abs(x.l, y.l)}) end
  if cmp_abs(x.l, y.l) >= 0 then return norm({neg = x.neg, l = sub_abs(x.l, y.l)}) end
  return norm({neg = y.neg, l = sub_abs(y.l, x.l)})
end
local function bsub(x, y) return badd(x, norm({neg = not y.neg, l = y.l})) end
local function bcmp(x, y)
  if x.neg ~= y.neg then if x.neg then return -1 else return 1 end end
  local c = cmp_abs(x.l, y.l)
  if x.neg then return -c end
  return c
end
local function bstr(x)
  local parts = {string.format('%d', x.l[#x.l])}
  for i = #x.l - 1, 1, -1 do parts[#parts + 1] = string.format('%07d', x.l[i]) end
  local text = table.concat(parts)
  if x.neg then return '-' .. text end
  return text
end

local function server_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function mock_now()
  local c = redis.call('HMGET', P .. 'clock', 'mode', 'manual', 'epoch', 'speed', 'offset')
  if c[1] == 'manual' then return tonumber(c[2]) end
  local t = redis.call('TIME')
  local wall = tonumber(t[1]) + tonumber(t[2]) / 1000000
  local epoch = tonumber(c[3]) or wall
  return epoch + (wall - epoch) * (tonumber(c[4]) or 1) + (tonumber(c[5]) or 0)
end

-- The job schedule's earliest due time not leased to a worker, or '' (a request
-- ticks only when it is <= now: no claim round trip otherwise).
local function first_due()
  local first = redis.call('ZRANGE', P .. 'due', 0, 0, 'WITHSCORES')
  if first[2] then return first[2] end
  return ''
end

-- money ------------------------------------------------------------------
local function account_key(provider, key) return P .. 'acct:' .. provider .. ':' .. key end

local function reserve(provider, key, job_id, amount, starting)
  local akey = account_key(provider, key)
  redis.call('HSETNX', akey, 'balance', starting)
  redis.call('HSETNX', akey, 'reserved', '0')
  redis.call('SADD', P .. 'kacct:' .. key, provider)
  if redis.call('HEXISTS', P .. 'resv', job_id) == 1 then
    return redis.error_reply('job ' .. job_id .. ' already holds a reservation')
  end
  local money = redis.call('HMGET', akey, 'balance', 'reserved')
  local available = bsub(big(money[1]), big(money[2]))
  local want = big(amount)
  if bcmp(want, available) > 0 then return bstr(available) end
  redis.call('HSET', akey, 'reserved', bstr(badd(big(money[2]), want)))
  redis.call('HSET', P .. 'resv', job_id, cjson.encode({provider, key, amount}))
  return false
end

local function end_reservation(job_id, charge)
  local held = redis.call('HGET', P .. 'resv', job_id)
  if not held then return '0' end
  redis.call('HDEL', P .. 'resv', job_id)
  local r = cjson.decode(held)
  local akey = account_key(r[1], r[2])
  local money = redis.call('HMGET', akey, 'balance', 'reserved')
  local amount = big(r[3])
  if money[2] then redis.call('HSET', akey, 'reserved', bstr(bsub(big(money[2]), amount))) end
  if charge and money[1] then
    redis.call('HSET', akey, 'balance', bstr(bsub(big(money[1]), amount)))
  end
  return r[3]
end

-- keys -------------------------------------------------------------------------------
-- Forget least recently used keys that are not configured (their settings and
-- accounts; reservations of their jobs stay held) while over the bounds; never ``keep``.
local function bound_keys(keep, max_keys, max_bytes)
  local forgotten = {}
  while true do
    local count = tonumber(redis.call('HGET', P .. 'keys:meta', 'evictable') or '0')
    local bytes = tonumber(redis.call('HGET', P .. 'keys:meta', 'bytes') or '0')
    if not (count > max_keys or bytes > max_bytes) then break end
    local oldest = redis.call('ZRANGE', P .. 'keys', 0, 0)[1]
    if oldest == nil or oldest == keep then break end
    local size = redis.call('HGET', P .. 'key:' .. oldest, 'bytes') or '0'
    redis.call('ZREM', P .. 'keys', oldest)
    redis.call('DEL', P .. 'key:' .. oldest)
    redis.call('HINCRBY', P .. 'keys:meta', 'evictable', -1)
    redis.call('HINCRBY', P .. 'keys:meta', 'bytes', -tonumber(size))
    for _, provider in ipairs(redis.call('SMEMBERS', P .. 'kacct:' .. oldest)) do
      redis.call('DEL', account_key(provider, oldest))
    end
    redis.call('DEL', P .. 'kacct:' .. oldest)
    forgotten[#forgotten + 1] = oldest
  end
  return forgotten
end

-- A key a create used: counted against the key bounds (a client inventing a key per
-- request must not grow the accounts without limit), most recently used last.
local function touch_key(key, key_bytes, max_keys, max_bytes)
  local k = P .. 'key:' .. key
  if redis.call('EXISTS', k) == 0 then
    redis.call('HSET', k, 'bytes', key_bytes)
    redis.call('HINCRBY', P .. 'keys:meta', 'evictable', 1)
    redis.call('HINCRBY', P .. 'keys:meta', 'bytes', key_bytes)
  elseif redis.call('HEXISTS', k, 'configured') == 1 then
    return {}
  end
  redis.call('ZADD', P .. 'keys', redis.call('HINCRBY', P .. 'keys:meta', 'seq', 1), key)
  return bound_keys(key, max_keys, max_bytes)
end

-- windows and slots ------------------------------------------------------------
local function window_trim(wkey, now, window)
  redis.call('ZREMRANGEBYSCORE', wkey, '-inf', num(now - window))
  return redis.call('ZCARD', wkey)
end

local function window_free_at(wkey, count, limit, window)
  local leaving = redis.call('ZRANGE', wkey, count - limit, count - limit, 'WITHSCORES')
  return num(tonumber(leaving[2]) + window)
end

local function promote(provider, key, limit)
  local skey = P .. 'slots:' .. provider .. ':' .. key
  local wkey = P .. 'wait:' .. provider .. ':' .. key
  local promoted = {}
  while redis.call('LLEN', wkey) > 0 and (limit == nil or redis.call('SCARD', skey) < limit) do
    local id = redis.call('LPOP', wkey)
    redis.call('SADD', skey, id)
    promoted[#promoted + 1] = id
  end
  return promoted
end

-- leases (due transitions, webhook attempts) -------------------------------------------
-- A queue Q has Q (zset id -> due mock time), Q:lease (zset id -> expiry ms on the
-- server clock) and Q:holder (hash id -> token|due). Expired leases go back first.
local function requeue_expired(q)
  local t = server_ms()
  local expired = redis.call('ZRANGEBYSCORE', q .. ':lease', '-inf', t)
  for _, id in ipairs(expired) do
    local held = redis.call('HGET', q .. ':holder', id)
    redis.call('ZREM', q .. ':lease', id)
    redis.call('HDEL', q .. ':holder', id)
    if held then
      local due = string.sub(held, string.find(held, '|', 1, true) + 1)
      redis.call('ZADD', q, due, id)
      if q == P .. 'wh:due' and redis.call('EXISTS', P .. 'wh:' .. id) == 1 then
        redis.call('HSET', P .. 'wh:' .. id, 'state', 'pending')
      end
    end
  end
  return t
end

local function lease(q, now, limit, lease_ms, token)
  local t = requeue_expired(q)
  local ids = redis.call('ZRANGEBYSCORE', q, '-inf', num(now), 'WITHSCORES', 'LIMIT', 0, limit)
  local out = {}
  for i = 1, #ids, 2 do
    local id, due = ids[i], ids[i + 1]
    redis.call('ZREM', q, id)
    redis.call('ZADD', q .. ':lease', t + lease_ms, id)
    redis.call('HSET', q .. ':holder', id, token .. '|' .. due)
    out[#out + 1] = {id, due}
  end
  return out
end

local function holds(q, id, token)
  local held = redis.call('HGET', q .. ':holder', id)
  if not held or string.sub(held, 1, #token + 1) ~= token .. '|' then return false end
  redis.call('ZREM', q .. ':lease', id)
  redis.call('HDEL', q .. ':holder', id)
  return true
end

local function unschedule(q, id)
  redis.call('ZREM', q, id)
  redis.call('ZREM', q .. ':lease', id)
  redis.call('HDEL', q .. ':holder', id)
end

-- jobs ----------------------------------------------------------------------------------
local function job_key(id) return P .. 'job:' .. id end

local function schedule(id, due)
  if due == '' then unschedule(P .. 'due', id) else redis.call('ZADD', P .. 'due', due, id) end
end

local function mark_finished(id, state)
  if TERMINAL[state] then
    redis.call('ZADD', P .. 'jobs:finished', redis.call('INCR', P .. 'jobs:fseq'), id)
  end
end

local function drop_job(id)
  local fields = redis.call('HMGET', job_key(id), 'size', 'state', 'p', 'k')
  redis.call('DEL', job_key(id))
  redis.call('ZREM', P .. 'jobs', id)
  redis.call('ZREM', P .. 'jobs:finished', id)
  unschedule(P .. 'due', id)
  if fields[1] then redis.call('DECRBY', P .. 'jobs:bytes', fields[1]) end
  return fields
end

local function evict_jobs(max_jobs, max_bytes)
  local evicted = {}
  while true do
    local count = redis.call('ZCARD', P .. 'jobs')
    local bytes = tonumber(redis.call('GET', P .. 'jobs:bytes') or '0')
    if not (count > max_jobs or (bytes > max_bytes and count > 1)) then break end
    local victim = nil
    while true do
      local first = redis.call('ZPOPMIN', P .. 'jobs:finished')
      if #first == 0 then break end
      if TERMINAL[redis.call('HGET', job_key(first[1]), 'state') or ''] then
        victim = first[1]
        break
      end
    end
    if victim == nil then victim = redis.call('ZRANGE', P .. 'jobs', 0, 0)[1] end
    if victim == nil then break end
    local fields = drop_job(victim)
    if not TERMINAL[fields[2] or ''] then
      end_reservation(victim, false)
      redis.call('SREM', P .. 'slots:' .. fields[3] .. ':' .. fields[4], victim)
      redis.call('LREM', P .. 'wait:' .. fields[3] .. ':' .. fields[4], 0, victim)
      evicted[#evicted + 1] = {victim, fields[3], fields[4]}
    end
  end
  return evicted
end

local function job_reply(id)
  local f = redis.call('HMGET', job_key(id), 'doc', 'state', 'polls', 'num', 'adm')
  if not f[1] then return false end
  return {id, f[1], f[2], f[3], f[4], f[5] or '0'}
end

-- webhook deliveries ---------------------------------------------------------------------
local function wh_key(id) return P .. 'wh:' .. id end

local function wh_finish(id, max_deliveries)
  if redis.call('ZREM', P .. 'wh:waiting', id) == 1 then
    redis.call('HINCRBY', P .. 'wh:meta', 'waiting_bytes',
               -tonumber(redis.call('HGET', wh_key(id), 'size') or '0'))
  end
  redis.call('ZADD', P .. 'wh:finished', redis.call('HINCRBY', P .. 'wh:meta', 'fseq', 1), id)
  while redis.call('ZCARD', P .. 'wh:order') > max_deliveries do
    local oldest = redis.call('ZPOPMIN', P .. 'wh:finished')
    if #oldest == 0 then break end
    redis.call('DEL', wh_key(oldest[1]), wh_key(oldest[1]) .. ':attempts')
    redis.call('ZREM', P .. 'wh:order', oldest[1])
  end
end

local function wh_reply(id)
  local f = redis.call('HMGET', wh_key(id), 'doc', 'body', 'state', 'due', 'dropped',
                      'resent_as')
  if not f[1] then return false end
  return {id, f[1], f[2], f[3], f[4], f[5] or '', f[6] or ''}
end

-- Add a pending delivery; drop the oldest pending ones over the bounds; their ids.
local function wh_enqueue(id, doc, body, due, size, max_pending_text, max_bytes_text,
                          max_deliveries)
  redis.call('HSET', wh_key(id), 'doc', doc, 'body', body, 'state', 'pending',
             'due', due, 'size', size)
  local seq = redis.call('HINCRBY', P .. 'wh:meta', 'seq', 1)
  redis.call('ZADD', P .. 'wh:order', seq, id)
  redis.call('ZADD', P .. 'wh:waiting', seq, id)
  redis.call('HINCRBY', P .. 'wh:meta', 'waiting_bytes', size)
  redis.call('ZADD', P .. 'wh:due', due, id)
  local dropped = {}
  local max_pending, max_bytes = tonumber(max_pending_text), tonumber(max_bytes_text)
  local skip = 0
  while true do
    local waiting = redis.call('ZCARD', P .. 'wh:waiting')
    local bytes = tonumber(redis.call('HGET', P .. 'wh:meta', 'waiting_bytes'))
    if not (waiting > max_pending or (bytes > max_bytes and waiting > 1)) then break end
    local oldest = redis.call('ZRANGE', P .. 'wh:waiting', skip, skip)[1]
    if oldest == nil then break end
    if redis.call('HGET', wh_key(oldest), 'state') == 'pending' then
      unschedule(P .. 'wh:due', oldest)
      redis.call('HSET', wh_key(oldest), 'state', 'gave_up', 'dropped',
                 'dropped unsent: more than ' .. max_pending_text .. ' deliveries or ' ..
                 max_bytes_text .. ' bytes waiting')
      redis.call('HINCRBY', P .. 'wh:meta', 'dropped', 1)
      wh_finish(oldest, tonumber(max_deliveries))
      dropped[#dropped + 1] = oldest
    else
      skip = skip + 1
    end
  end
  return dropped
end
"""

CLOCK_INIT = r"""
local t = redis.call('TIME')
local wall = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('HSETNX', P .. 'clock', 'mode', ARGV[2])
redis.call('HSETNX', P .. 'clock', 'manual', ARGV[3])
redis.call('HSETNX', P .. 'clock', 'speed', ARGV[4])
redis.call('HSETNX', P .. 'clock', 'offset', '0')
redis.call('HSETNX', P .. 'clock', 'epoch', num(wall))
return redis.call('HMGET', P .. 'clock', 'mode', 'speed')
"""

CLOCK_NOW = r"""
return num(mock_now())
"""

CLOCK_ADVANCE = r"""
if redis.call('HGET', P .. 'clock', 'mode') == 'manual' then
  redis.call('HINCRBYFLOAT', P .. 'clock', 'manual', ARGV[2])
else
  redis.call('HINCRBYFLOAT', P .. 'clock', 'offset', ARGV[2])
end
return num(mock_now())
"""

# ARGV: P, id, provider, key, doc, state, size, due, max_jobs, max_bytes,
#       admit ('1'|''), now, window, per_window, concurrent, queue ('1'|''), amount, starting,
#       key bytes, max keys, max key bytes
CREATE_JOB = r"""
local id, provider, key = ARGV[2], ARGV[3], ARGV[4]
local admitted = {'ok', '0', '0', '0', '', ''}
local queued = false
if ARGV[11] == '1' then
  local now, window = tonumber(ARGV[12]), tonumber(ARGV[13])
  local wkey = P .. 'win:' .. provider .. ':' .. key
  local count = window_trim(wkey, now, window)
  if ARGV[14] ~= '' and count >= tonumber(ARGV[14]) then
    local limit = tonumber(ARGV[14])
    local free_at = ''
    if limit > 0 then free_at = window_free_at(wkey, count, limit, window) end
    return {{'window', '0', tostring(count), '0', free_at, ''}, {}}
  end
  local skey = P .. 'slots:' .. provider .. ':' .. key
  local qkey = P .. 'wait:' .. provider .. ':' .. key
  local in_flight = redis.call('SCARD', skey)
  if ARGV[15] ~= '' then
    local full = in_flight >= tonumber(ARGV[15])
    if ARGV[16] == '1' and (full or redis.call('LLEN', qkey) > 0) then
      queued = true
    elseif full then
      return {{'concurrency', '0', tostring(count), tostring(in_flight), '', ''}, {}}
    end
  end
  if ARGV[17] ~= '' then
    local short = reserve(provider, key, id, ARGV[17], ARGV[18])
    if short then return {{'funds', '0', tostring(count), tostring(in_flight), '', short}, {}} end
  end
  -- Only a limited window is recorded: it then holds at most its limit.
  if ARGV[14] ~= '' then redis.call('ZADD', wkey, ARGV[12], id) end
  if queued then redis.call('RPUSH', qkey, id) else redis.call('SADD', skey, id) end
  admitted = {'ok', queued and '1' or '0', tostring(count), tostring(in_flight), '', ''}
  touch_key(key, tonumber(ARGV[19]), tonumber(ARGV[20]), tonumber(ARGV[21]))
end
local jkey = job_key(id)
if redis.call('EXISTS', jkey) == 1 then drop_job(id) end
local number = redis.call('INCR', P .. 'jobs:n')
redis.call('HSET', jkey, 'doc', ARGV[5], 'state', ARGV[6], 'polls', 0, 'size', ARGV[7],
           'num', number, 'p', provider, 'k', key)
if ARGV[11] == '1' then
  -- The limiter's counts the create saw (admission.unpack_counts): place in the
  -- window, jobs in flight before it; for the job's timeline.
  redis.call('HSET', jkey, 'adm', string.format('%.0f',
             tonumber(admitted[4]) * 4294967296 + tonumber(admitted[3]) + 1))
end
redis.call('ZADD', P .. 'jobs', number, id)
redis.call('INCRBY', P .. 'jobs:bytes', ARGV[7])
schedule(id, ARGV[8])
mark_finished(id, ARGV[6])
return {admitted, evict_jobs(tonumber(ARGV[9]), tonumber(ARGV[10]))}
"""

# ARGV: P, id, count_poll ('1'|'')
JOB_READ = r"""
local now = num(mock_now())
if ARGV[3] == '1' and redis.call('EXISTS', job_key(ARGV[2])) == 1 then
  redis.call('HINCRBY', job_key(ARGV[2]), 'polls', 1)
end
return {now, job_reply(ARGV[2]), first_due()}
"""

# ARGV: P, id, doc, state, due, expect_state
JOB_SAVE = r"""
local jkey = job_key(ARGV[2])
if redis.call('HGET', jkey, 'state') ~= ARGV[6] then return 0 end
redis.call('HSET', jkey, 'doc', ARGV[3], 'state', ARGV[4])
unschedule(P .. 'due', ARGV[2])
schedule(ARGV[2], ARGV[5])
if ARGV[4] ~= ARGV[6] then mark_finished(ARGV[2], ARGV[4]) end
return 1
"""

# ARGV: P, queue name, now, limit, lease ms, token, record kind ('job'|'wh')
CLAIM = r"""
local leased = lease(P .. ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]),
                     ARGV[6])
local out = {}
for _, item in ipairs(leased) do
  local record
  if ARGV[7] == 'job' then
    record = job_reply(item[1])
  else
    record = wh_reply(item[1])
    if record then
      redis.call('HSET', wh_key(item[1]), 'state', 'in_flight')
      record[4] = 'in_flight'
      -- Its attempts so far: the next attempt's number, and the retry delay, follow them.
      record[8] = redis.call('LRANGE', wh_key(item[1]) .. ':attempts', 0, -1)
    end
  end
  if record then
    out[#out + 1] = {item[1], item[2], record}
  else
    holds(P .. ARGV[2], item[1], ARGV[6])
  end
end
return out
"""

# ARGV: P, id, token, doc, state, due
JOB_FINISH_CLAIM = r"""
if not holds(P .. 'due', ARGV[2], ARGV[3]) then return 0 end
local jkey = job_key(ARGV[2])
if redis.call('EXISTS', jkey) == 0 then return 0 end
local before = redis.call('HGET', jkey, 'state')
redis.call('HSET', jkey, 'doc', ARGV[4], 'state', ARGV[5])
schedule(ARGV[2], ARGV[6])
if before ~= ARGV[5] then mark_finished(ARGV[2], ARGV[5]) end
return 1
"""

# A transition written together with what a job's end does, in one step: the lease
# (mode 'claim') or the state it was read in (mode 'cas') decides that exactly one
# worker writes it; the money, the slot (and the jobs waiting for it) and the final
# webhook then change with it, so a worker dying between them loses nothing.
# ARGV: P, id, mode, token or expected state, doc, state, due, money ('settle' |
#       'release' | ''), provider, key, free slot ('1' | ''), slot limit ('' none),
#       delivery id ('' none), its doc, body, due, size, max pending, max bytes,
#       max deliveries
JOB_COMMIT = r"""
local id = ARGV[2]
local jkey = job_key(id)
local lost = {0, '0', {}, {}}
if redis.call('EXISTS', jkey) == 0 then return lost end
local before = redis.call('HGET', jkey, 'state')
if ARGV[3] == 'claim' then
  if not holds(P .. 'due', id, ARGV[4]) then return lost end
else
  if before ~= ARGV[4] then return lost end
  unschedule(P .. 'due', id)
end
redis.call('HSET', jkey, 'doc', ARGV[5], 'state', ARGV[6])
schedule(id, ARGV[7])
if before ~= ARGV[6] then mark_finished(id, ARGV[6]) end
local charged = '0'
if ARGV[8] ~= '' then charged = end_reservation(id, ARGV[8] == 'settle') end
local promoted = {}
if ARGV[11] == '1' then
  redis.call('SREM', P .. 'slots:' .. ARGV[9] .. ':' .. ARGV[10], id)
  redis.call('LREM', P .. 'wait:' .. ARGV[9] .. ':' .. ARGV[10], 0, id)
  promoted = promote(ARGV[9], ARGV[10], tonumber(ARGV[12]))
end
local dropped = {}
if ARGV[13] ~= '' then
  dropped = wh_enqueue(ARGV[13], ARGV[14], ARGV[15], ARGV[16], tonumber(ARGV[17]), ARGV[18],
                       ARGV[19], ARGV[20])
end
return {1, charged, promoted, dropped}
"""

# A delivery leased but not attempted (a worker stopping) is due again at once.
# ARGV: P, id, token
LEASE_RETURN = r"""
local held = redis.call('HGET', P .. 'wh:due:holder', ARGV[2])
if not held or string.sub(held, 1, #ARGV[3] + 1) ~= ARGV[3] .. '|' then return 0 end
holds(P .. 'wh:due', ARGV[2], ARGV[3])
local due = string.sub(held, #ARGV[3] + 2)
redis.call('ZADD', P .. 'wh:due', due, ARGV[2])
redis.call('HSET', wh_key(ARGV[2]), 'state', 'pending')
return 1
"""

# ARGV: P, provider, key, job id, amount, starting balance
RESERVE = r"""
local short = reserve(ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
if short then return short end
return false
"""

# ARGV: P, job id, charge ('1'|'')
END_RESERVATION = r"""
return end_reservation(ARGV[2], ARGV[3] == '1')
"""

# ARGV: P, provider, key, member, now, window, limit
WINDOW_HIT = r"""
local wkey = P .. 'win:' .. ARGV[2] .. ':' .. ARGV[3]
local now, window, limit = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local count = window_trim(wkey, now, window)
if count >= limit then
  if limit == 0 then return {0, count, ''} end
  return {0, count, window_free_at(wkey, count, limit, window)}
end
redis.call('ZADD', wkey, ARGV[5], ARGV[4])
return {1, count, ''}
"""

# ARGV: P, name, window index, limit, free at. One hash per name (index, count): the
# window is on the mock clock, so a wall-clock expiry would be wrong on a manual one.
FIXED_WINDOW_HIT = r"""
local key = P .. 'fixed:' .. ARGV[2]
local w = redis.call('HMGET', key, 'index', 'count')
local count = 0
if w[1] == ARGV[3] then count = tonumber(w[2]) end
if count >= tonumber(ARGV[4]) then return {0, count, ARGV[5]} end
redis.call('HSET', key, 'index', ARGV[3], 'count', count + 1)
return {1, count, ''}
"""

# ARGV: P, provider, key, job id, limit, queue ('1'|'')
ACQUIRE_SLOT = r"""
local skey = P .. 'slots:' .. ARGV[2] .. ':' .. ARGV[3]
local qkey = P .. 'wait:' .. ARGV[2] .. ':' .. ARGV[3]
local in_flight = redis.call('SCARD', skey)
if redis.call('SISMEMBER', skey, ARGV[4]) == 1 then return {1, 0, in_flight} end
local waiting = redis.call('LLEN', qkey)
if in_flight < tonumber(ARGV[5]) and waiting == 0 then
  redis.call('SADD', skey, ARGV[4])
  return {1, 0, in_flight}
end
if ARGV[6] == '1' then
  redis.call('RPUSH', qkey, ARGV[4])
  return {0, 1, in_flight}
end
return {0, 0, in_flight}
"""

# ARGV: P, provider, key, job id, limit ('' = none)
RELEASE_SLOT = r"""
redis.call('SREM', P .. 'slots:' .. ARGV[2] .. ':' .. ARGV[3], ARGV[4])
redis.call('LREM', P .. 'wait:' .. ARGV[2] .. ':' .. ARGV[3], 0, ARGV[4])
return promote(ARGV[2], ARGV[3], tonumber(ARGV[5]))
"""

# ARGV: P, doc, provider, endpoint, model, key, nth, times, max queued
SCENARIO_PUSH = r"""
if redis.call('LLEN', P .. 'scn:ids') >= tonumber(ARGV[9]) then return 0 end
local id = redis.call('INCR', P .. 'scn:n')
redis.call('HSET', P .. 'scn:' .. id, 'doc', ARGV[2], 'provider', ARGV[3], 'endpoint', ARGV[4],
           'model', ARGV[5], 'key', ARGV[6], 'nth', ARGV[7], 'times', ARGV[8], 'seen', 0,
           'fired', 0)
redis.call('RPUSH', P .. 'scn:ids', id)
-- Workers skip the queue while they know it is empty; this tells them it is not.
redis.call('PUBLISH', P .. 'scn:pushed', id)
return id
"""

# ARGV: P, provider, endpoint, model, key (each '\0' when the call has none)
SCENARIO_TAKE = r"""
local chosen = nil
for _, id in ipairs(redis.call('LRANGE', P .. 'scn:ids', 0, -1)) do
  local e = redis.call('HMGET', P .. 'scn:' .. id, 'provider', 'endpoint', 'model', 'key', 'nth')
  local matches = true
  for i = 1, 4 do
    if e[i] ~= '' and e[i] ~= ARGV[i + 1] then matches = false end
  end
  if matches then
    local seen = redis.call('HINCRBY', P .. 'scn:' .. id, 'seen', 1)
    if chosen == nil and seen >= tonumber(e[5]) then chosen = id end
  end
end
if chosen == nil then return {'', redis.call('LLEN', P .. 'scn:ids')} end
local ekey = P .. 'scn:' .. chosen
local fired = redis.call('HINCRBY', ekey, 'fired', 1)
local doc = redis.call('HGET', ekey, 'doc')
if fired >= tonumber(redis.call('HGET', ekey, 'times')) then
  redis.call('LREM', P .. 'scn:ids', 0, chosen)
  redis.call('DEL', ekey)
end
return {doc, redis.call('LLEN', P .. 'scn:ids')}
"""

SCENARIO_CLEAR = r"""
local ids = redis.call('LRANGE', P .. 'scn:ids', 0, -1)
for _, id in ipairs(ids) do redis.call('DEL', P .. 'scn:' .. id) end
redis.call('DEL', P .. 'scn:ids')
return #ids
"""

# ARGV: P, id, doc, body, due, size, max pending, max pending bytes, max deliveries
ENQUEUE = r"""
return wh_enqueue(ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7], ARGV[8],
                  ARGV[9])
"""

# ARGV: P, id, token, attempt, outcome, next due, attempt log size, max deliveries
RECORD_ATTEMPT = r"""
local id = ARGV[2]
if not holds(P .. 'wh:due', id, ARGV[3]) then return 0 end
if redis.call('EXISTS', wh_key(id)) == 0 then return 0 end
redis.call('RPUSH', wh_key(id) .. ':attempts', ARGV[4])
redis.call('RPUSH', P .. 'wh:log', ARGV[4])
redis.call('LTRIM', P .. 'wh:log', -tonumber(ARGV[7]), -1)
if ARGV[5] == 'retry' then
  redis.call('HSET', wh_key(id), 'state', 'pending', 'due', ARGV[6])
  redis.call('ZADD', P .. 'wh:due', ARGV[6], id)
  return 1
end
redis.call('HSET', wh_key(id), 'state', ARGV[5])
wh_finish(id, tonumber(ARGV[8]))
return 1
"""

# ARGV: P, token, meta, data ('' with flag), has data, max uploads, max bytes
PUT_UPLOAD = r"""
local ukey = P .. 'up:' .. ARGV[2]
local old = tonumber(redis.call('HGET', ukey, 'size') or '0')
redis.call('HSET', ukey, 'meta', ARGV[3])
if ARGV[5] == '1' then
  redis.call('HSET', ukey, 'data', ARGV[4], 'size', #ARGV[4])
  redis.call('HINCRBY', P .. 'ups:meta', 'bytes', #ARGV[4] - old)
end
redis.call('ZADD', P .. 'ups', redis.call('HINCRBY', P .. 'ups:meta', 'seq', 1), ARGV[2])
local evicted = {}
while true do
  local count = redis.call('ZCARD', P .. 'ups')
  local bytes = tonumber(redis.call('HGET', P .. 'ups:meta', 'bytes') or '0')
  if not (count > tonumber(ARGV[6]) or bytes > tonumber(ARGV[7])) then break end
  local oldest = redis.call('ZRANGE', P .. 'ups', 0, 0)[1]
  if oldest == ARGV[2] then break end
  local size = tonumber(redis.call('HGET', P .. 'up:' .. oldest, 'size') or '0')
  redis.call('HINCRBY', P .. 'ups:meta', 'bytes', -size)
  redis.call('DEL', P .. 'up:' .. oldest)
  redis.call('ZREM', P .. 'ups', oldest)
  evicted[#evicted + 1] = oldest
end
return evicted
"""

# ARGV: P, key. The clock and the key's settings; the key becomes the most recently used.
CREATE_CONTEXT = r"""
local now = num(mock_now())
local settings = redis.call('HGET', P .. 'key:' .. ARGV[2], 'doc')
if settings then
  redis.call('ZADD', P .. 'keys', redis.call('HINCRBY', P .. 'keys:meta', 'seq', 1), ARGV[2])
end
return {now, settings, first_due()}
"""

# ARGV: P, key, doc, configured ('1'|''), key bytes, max keys, max key bytes
PUT_KEY = r"""
local k = P .. 'key:' .. ARGV[2]
if redis.call('EXISTS', k) == 0 and ARGV[4] ~= '1' then
  redis.call('HINCRBY', P .. 'keys:meta', 'evictable', 1)
  redis.call('HINCRBY', P .. 'keys:meta', 'bytes', ARGV[5])
end
redis.call('HSET', k, 'doc', ARGV[3], 'bytes', ARGV[5])
if ARGV[4] == '1' then
  redis.call('HSET', k, 'configured', '1')
  redis.call('ZREM', P .. 'keys', ARGV[2])
else
  redis.call('ZADD', P .. 'keys', redis.call('HINCRBY', P .. 'keys:meta', 'seq', 1), ARGV[2])
end
local forgotten = bound_keys(ARGV[2], tonumber(ARGV[6]), tonumber(ARGV[7]))
-- Every worker reads this key's settings again before it next uses it.
redis.call('PUBLISH', P .. 'keys:changed', ARGV[2])
return forgotten
"""

# A test hook for the money helpers: ARGV: P, op ('add'|'sub'|'cmp'), a, b.
BIGINT = r"""
if ARGV[2] == 'add' then return bstr(badd(big(ARGV[3]), big(ARGV[4]))) end
if ARGV[2] == 'sub' then return bstr(bsub(big(ARGV[3]), big(ARGV[4]))) end
return tostring(bcmp(big(ARGV[3]), big(ARGV[4])))
"""

# ARGV: P, max entries, max bytes, then per entry 6 values: entry JSON, provider,
# status, endpoint, job id, bytes. Each entry gets the next sequence number of
# the fleet (its stream id is "<seq>-0"); the oldest go while over either bound.
# Returns {first seq, last seq, entries kept, bytes kept}.
JOURNAL_ADD = r"""
local key, meta = P .. 'journal', P .. 'journal:meta'
local max_count, max_bytes = tonumber(ARGV[2]), tonumber(ARGV[3])
local first, last = 0, 0
local bytes = tonumber(redis.call('HGET', meta, 'bytes') or '0')
for i = 4, #ARGV - 5, 6 do
  last = redis.call('HINCRBY', meta, 'seq', 1)
  if first == 0 then first = last end
  redis.call('XADD', key, last .. '-0', 'e', ARGV[i], 'p', ARGV[i + 1], 's', ARGV[i + 2],
             'n', ARGV[i + 3], 'j', ARGV[i + 4], 'z', ARGV[i + 5])
  bytes = bytes + tonumber(ARGV[i + 5])
end
local count = redis.call('XLEN', key)
while count > 1 and (count > max_count or bytes > max_bytes) do
  local oldest = redis.call('XRANGE', key, '-', '+', 'COUNT', math.min(count - 1, 100))
  for _, item in ipairs(oldest) do
    if count <= 1 or not (count > max_count or bytes > max_bytes) then break end
    local fields = item[2]
    for f = 1, #fields, 2 do
      if fields[f] == 'z' then bytes = bytes - tonumber(fields[f + 1]) end
    end
    redis.call('XDEL', key, item[1])
    count = count - 1
  end
end
redis.call('HSET', meta, 'bytes', bytes)
return {first, last, count, bytes}
"""

# ARGV: P, order ('new'|'old'), after seq ('' from the start), limit, budget,
# provider, status, endpoint, job ('' matches anything). Walks the stream from
# just past ``after`` as paging.page_of does: at most ``budget`` entries examined.
# Returns {next cursor ('' none), seq1, entry1, seq2, entry2, ...}.
JOURNAL_SCAN = r"""
local key = P .. 'journal'
local newest, after = ARGV[2] == 'new', ARGV[3]
local limit, budget = tonumber(ARGV[4]), tonumber(ARGV[5])
local want = {p = ARGV[6], s = ARGV[7], n = ARGV[8], j = ARGV[9]}
local out = {''}
local found, examined, last = 0, 0, ''
local from
if after == '' then
  if newest then from = '+' else from = '-' end
else
  from = '(' .. after .. '-0'
end
if limit <= 0 then return out end
while true do
  local chunk
  if newest then
    chunk = redis.call('XREVRANGE', key, from, '-', 'COUNT', 200)
  else
    chunk = redis.call('XRANGE', key, from, '+', 'COUNT', 200)
  end
  if #chunk == 0 then return out end
  for index, item in ipairs(chunk) do
    local fields, got = item[2], {}
    for f = 1, #fields, 2 do got[fields[f]] = fields[f + 1] end
    examined = examined + 1
    last = string.sub(item[1], 1, -3)
    local keep = true
    for name, value in pairs(want) do
      if value ~= '' and got[name] ~= value then keep = false end
    end
    if keep then
      out[#out + 1] = last
      out[#out + 1] = got['e']
      found = found + 1
    end
    if found >= limit or examined >= budget then
      local more = index < #chunk
      if not more then
        if newest then
          more = #redis.call('XREVRANGE', key, '(' .. item[1], '-', 'COUNT', 1) > 0
        else
          more = #redis.call('XRANGE', key, '(' .. item[1], '+', 'COUNT', 1) > 0
        end
      end
      if more then out[1] = last end
      return out
    end
    from = '(' .. item[1]
  end
end
"""


SCRIPTS: dict[str, str] = {
    "clock_init": CLOCK_INIT,
    "clock_now": CLOCK_NOW,
    "clock_advance": CLOCK_ADVANCE,
    "create_job": CREATE_JOB,
    "job_read": JOB_READ,
    "job_save": JOB_SAVE,
    "claim": CLAIM,
    "job_finish_claim": JOB_FINISH_CLAIM,
    "job_commit": JOB_COMMIT,
    "lease_return": LEASE_RETURN,
    "reserve": RESERVE,
    "end_reservation": END_RESERVATION,
    "window_hit": WINDOW_HIT,
    "fixed_window_hit": FIXED_WINDOW_HIT,
    "acquire_slot": ACQUIRE_SLOT,
    "release_slot": RELEASE_SLOT,
    "scenario_push": SCENARIO_PUSH,
    "scenario_take": SCENARIO_TAKE,
    "scenario_clear": SCENARIO_CLEAR,
    "enqueue": ENQUEUE,
    "record_attempt": RECORD_ATTEMPT,
    "put_upload": PUT_UPLOAD,
    "create_context": CREATE_CONTEXT,
    "put_key": PUT_KEY,
    "bigint": BIGINT,
    "journal_add": JOURNAL_ADD,
    "journal_scan": JOURNAL_SCAN,
}


def _helpers(library: str) -> list[tuple[str | None, str]]:
    """The library cut into its top-level definitions: ``(name, text)``, a comment
    going with the definition after it; ``name`` None for the plain locals (``P``...)."""
    chunks: list[tuple[str | None, str]] = []
    pending: list[str] = []
    for line in library.strip("\n").split("\n"):
        if line.startswith("local "):
            # Comment lines just above a definition are its own; blank ones end the last.
            while pending and not pending[0].startswith("--") and chunks:
                name, text = chunks[-1]
                chunks[-1] = (name, text + "\n" + pending.pop(0))
            found = re.match(r"local function (\w+)", line)
            chunks.append((found.group(1) if found else None, "\n".join([*pending, line])))
            pending = []
        elif line.startswith("--") or not line.strip():
            pending.append(line)
        else:
            name, text = chunks[-1]
            chunks[-1] = (name, text + "\n" + "\n".join([*pending, line]))
            pending = []
    return chunks


_CHUNKS = _helpers(LIBRARY)


def script_source(body: str) -> str:
    """``body`` after the library helpers it calls, directly or through others, in the
    library's order (a helper is defined before its callers there)."""
    needed: set[str] = set()
    texts = dict((name, text) for name, text in _CHUNKS if name is not None)
    todo = [body]
    while todo:
        text = todo.pop()
        for name in re.findall(r"\b(\w+)\s*\(", text):
            if name in texts and name not in needed:
                needed.add(name)
                todo.append(texts[name])
    kept = [text for name, text in _CHUNKS if name is None or name in needed]
    return "\n".join(kept) + "\n" + body

