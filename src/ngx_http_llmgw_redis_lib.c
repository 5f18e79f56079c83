
/*
 * Copyright (C) llmgw authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_llmgw_redis_lib.h"


/* the functions, shared by both forms: a table of Lua functions "llmgw" */

static const char  ngx_http_llmgw_redis_lib_common[] =
    "local function now_ms(arg)\n"
    "    local n = tonumber(arg)\n"
    "    if n ~= nil and n > 0 then\n"
    "        return n\n"
    "    end\n"
    "    local t = redis.call('TIME')\n"
    "    return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "end\n"
    "\n"
    "local function ceil_div(a, b)\n"
    "    return math.floor((a + b - 1) / b)\n"
    "end\n"
    "\n"
    "local function num(v, what)\n"
    "    local n = tonumber(v)\n"
    "    if n == nil or n < 0 or n ~= math.floor(n) then\n"
    "        error('llmgw: ' .. what .. ' is not a non-negative integer')\n"
    "    end\n"
    "    return n\n"
    "end\n"
    "\n"
    "local llmgw = {}\n"
    "\n"
    "llmgw.gcra = function(keys, args)\n"
    "    local limit = num(args[1], 'limit')\n"
    "    local period = num(args[2], 'period')\n"
    "    local burst = num(args[3], 'burst')\n"
    "    local cost = num(args[4], 'cost')\n"
    "    local now = now_ms(args[5])\n"
    "    if limit == 0 or period == 0 or burst == 0 then\n"
    "        error('llmgw: limit, period and burst must be positive')\n"
    "    end\n"
    "    local v = redis.call('HMGET', keys[1], 't', 'f')\n"
    "    local d = 0\n"
    "    if v[1] then\n"
    "        d = (tonumber(v[1]) - now) * limit + (tonumber(v[2]) or 0)\n"
    "        if d < 0 then\n"
    "            d = 0\n"
    "        end\n"
    "    end\n"
    "    local cap = burst * period\n"
    "    local nd = d + cost * period\n"
    "    if nd > cap then\n"
    "        return {0, math.floor((cap - d) / period),\n"
    "                ceil_div(nd - cap, limit), ceil_div(d, limit)}\n"
    "    end\n"
    "    if cost > 0 then\n"
    "        redis.call('HSET', keys[1], 't', now + math.floor(nd / limit),\n"
    "                   'f', nd % limit)\n"
    "        redis.call('PEXPIRE', keys[1], ceil_div(nd, limit) + 1)\n"
    "    end\n"
    "    return {1, math.floor((cap - nd) / period), 0, ceil_div(nd, limit)}\n"
    "end\n"
    "\n"
    "llmgw.quota = function(keys, args)\n"
    "    local limit = num(args[1], 'limit')\n"
    "    local cost = num(args[2], 'cost')\n"
    "    local wend = num(args[3], 'window end')\n"
    "    local now = now_ms(args[4])\n"
    "    local used = tonumber(redis.call('GET', keys[1])) or 0\n"
    "    local reset = wend - now\n"
    "    if reset < 0 then\n"
    "        reset = 0\n"
    "    end\n"
    "    if used + cost > limit then\n"
    "        local left = limit - used\n"
    "        if left < 0 then\n"
    "            left = 0\n"
    "        end\n"
    "        return {0, left, reset}\n"
    "    end\n"
    "    if cost > 0 then\n"
    "        redis.call('INCRBY', keys[1], cost)\n"
    "        if used == 0 then\n"
    "            redis.call('PEXPIREAT', keys[1], wend)\n"
    "        end\n"
    "    end\n"
    "    return {1, limit - used - cost, reset}\n"
    "end\n"
    "\n"
    "llmgw.acquire = function(keys, args)\n"
    "    local limit = num(args[1], 'limit')\n"
    "    local lease = num(args[2], 'lease')\n"
    "    local id = args[3]\n"
    "    local now = now_ms(args[4])\n"
    "    redis.call('ZREMRANGEBYSCORE', keys[1], '-inf', now)\n"
    "    local held = redis.call('ZSCORE', keys[1], id)\n"
    "    local n = redis.call('ZCARD', keys[1])\n"
    "    if not held and n >= limit then\n"
    "        local first = redis.call('ZRANGE', keys[1], 0, 0, 'WITHSCORES')\n"
    "        return {0, 0, tonumber(first[2]) - now}\n"
    "    end\n"
    "    redis.call('ZADD', keys[1], now + lease, id)\n"
    "    local top = redis.call('ZRANGE', keys[1], -1, -1, 'WITHSCORES')\n"
    "    redis.call('PEXPIREAT', keys[1], tonumber(top[2]))\n"
    "    if not held then\n"
    "        n = n + 1\n"
    "    end\n"
    "    return {1, limit - n, 0}\n"
    "end\n"
    "\n"
    "llmgw.release = function(keys, args)\n"
    "    return redis.call('ZREM', keys[1], args[1])\n"
    "end\n"
    "\n"
    "llmgw.reserve = function(keys, args)\n"
    "    local limit = num(args[1], 'limit')\n"
    "    local amount = num(args[2], 'amount')\n"
    "    local id = args[3]\n"
    "    local wend = num(args[4], 'window end')\n"
    "    local now = now_ms(args[5])\n"
    "    local used = tonumber(redis.call('GET', keys[1])) or 0\n"
    "    local reset = wend - now\n"
    "    if reset < 0 then\n"
    "        reset = 0\n"
    "    end\n"
    "    if redis.call('HEXISTS', keys[2], id) == 1 then\n"
    "        return {1, math.max(limit - used, 0), reset}\n"
    "    end\n"
    "    if used + amount > limit then\n"
    "        return {0, math.max(limit - used, 0), reset}\n"
    "    end\n"
    "    redis.call('INCRBY', keys[1], amount)\n"
    "    redis.call('PEXPIREAT', keys[1], wend)\n"
    "    redis.call('HSET', keys[2], id, amount)\n"
    "    if redis.call('PTTL', keys[2]) < reset then\n"
    "        redis.call('PEXPIRE', keys[2], reset + 1)\n"
    "    end\n"
    "    return {1, limit - used - amount, reset}\n"
    "end\n"
    "\n"
    "llmgw.settle = function(keys, args)\n"
    "    local id = args[1]\n"
    "    local actual = num(args[2], 'actual')\n"
    "    local held = tonumber(redis.call('HGET', keys[2], id))\n"
    "    if held == nil then\n"
    "        return {0, tonumber(redis.call('GET', keys[1])) or 0}\n"
    "    end\n"
    "    redis.call('HDEL', keys[2], id)\n"
    "    if redis.call('EXISTS', keys[1]) == 0 then\n"
    "        return {1, 0}\n"
    "    end\n"
    "    return {1, redis.call('INCRBY', keys[1], actual - held)}\n"
    "end\n"
    "\n"
    "llmgw.state_publish = function(keys, args)\n"
    "    local maxlen = num(args[1], 'maxlen')\n"
    "    local id\n"
    "    for i = 2, #args - 2, 3 do\n"
    "        id = redis.call('XADD', keys[1], 'MAXLEN', '~', maxlen, '*',\n"
    "                        'change', args[i + 1])\n"
    "        if args[i + 2] == '1' then\n"
    "            redis.call('HDEL', keys[2], args[i])\n"
    "        else\n"
    "            redis.call('HSET', keys[2], args[i], args[i + 1])\n"
    "        end\n"
    "    end\n"
    "    return id\n"
    "end\n"
    "\n"
    "local function state_last(key)\n"
    "    if redis.call('EXISTS', key) == 0 then\n"
    "        return '0-0'\n"
    "    end\n"
    "    local info = redis.call('XINFO', 'STREAM', key)\n"
    "    for i = 1, #info, 2 do\n"
    "        if info[i] == 'last-generated-id' then\n"
    "            return info[i + 1]\n"
    "        end\n"
    "    end\n"
    "    return '0-0'\n"
    "end\n"
    "\n"
    "llmgw.state_tail = function(keys, args)\n"
    "    return state_last(keys[1])\n"
    "end\n"
    "\n"
    "llmgw.state_read = function(keys, args)\n"
    "    local last = args[1]\n"
    "    if last ~= state_last(keys[1])\n"
    "       and #redis.call('XRANGE', keys[1], last, last) == 0\n"
    "    then\n"
    "        return {'gone', {}}\n"
    "    end\n"
    "    return {'ok', redis.call('XRANGE', keys[1], '(' .. last, '+',\n"
    "                             'COUNT', num(args[2], 'count'))}\n"
    "end\n";


static const char  ngx_http_llmgw_redis_lib_head[] =
    "#!lua name=llmgw\n";


/*
 * Functions cannot be registered in a loop: the loading context has no
 * pairs().  Keep this list in step with the table above.
 */

static const char  ngx_http_llmgw_redis_lib_register[] =
    "redis.register_function('llmgw_gcra', llmgw.gcra)\n"
    "redis.register_function('llmgw_quota', llmgw.quota)\n"
    "redis.register_function('llmgw_acquire', llmgw.acquire)\n"
    "redis.register_function('llmgw_release', llmgw.release)\n"
    "redis.register_function('llmgw_reserve', llmgw.reserve)\n"
    "redis.register_function('llmgw_settle', llmgw.settle)\n"
    "redis.register_function('llmgw_state_publish', llmgw.state_publish)\n"
    "redis.register_function('llmgw_state_tail', llmgw.state_tail)\n"
    "redis.register_function('llmgw_state_read', llmgw.state_read)\n";


static const char  ngx_http_llmgw_redis_lib_dispatch[] =
    "local name = table.remove(ARGV, 1)\n"
    "local fn = llmgw[name]\n"
    "if fn == nil then\n"
    "    return redis.error_reply('ERR llmgw: no function ' .. "
                                 "tostring(name))\n"
    "end\n"
    "return fn(KEYS, ARGV)\n";


ngx_int_t
ngx_http_llmgw_redis_lib(ngx_pool_t *pool, ngx_str_t *library,
    ngx_str_t *script)
{
    u_char  *p;
    size_t   common;

    common = sizeof(ngx_http_llmgw_redis_lib_common) - 1;

    library->len = sizeof(ngx_http_llmgw_redis_lib_head) - 1 + common
                   + sizeof(ngx_http_llmgw_redis_lib_register) - 1;

    p = ngx_pnalloc(pool, library->len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    library->data = p;
    p = ngx_cpymem(p, ngx_http_llmgw_redis_lib_head,
                   sizeof(ngx_http_llmgw_redis_lib_head) - 1);
    p = ngx_cpymem(p, ngx_http_llmgw_redis_lib_common, common);
    ngx_memcpy(p, ngx_http_llmgw_redis_lib_register,
               sizeof(ngx_http_llmgw_redis_lib_register) - 1);

    script->len = common + sizeof(ngx_http_llmgw_redis_lib_dispatch) - 1;

    p = ngx_pnalloc(pool, script->len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    script->data = p;
    p = ngx_cpymem(p, ngx_http_llmgw_redis_lib_common, common);
    ngx_memcpy(p, ngx_http_llmgw_redis_lib_dispatch,
               sizeof(ngx_http_llmgw_redis_lib_dispatch) - 1);

    return NGX_OK;
}
