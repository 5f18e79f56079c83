-- wrk script: each request carries the next token of the file named by
-- the environment variable LLMGW_BENCH_TOKENS (one token a line), in the
-- header named by LLMGW_BENCH_HEADER (default Authorization, as Bearer).
-- Requests are formatted once, up front: formatting one per request costs
-- wrk's single thread more than nginx spends on the request.

local requests = {}
local n, i = 0, 0

function init(args)
    local path = os.getenv("LLMGW_BENCH_TOKENS")
    local header = os.getenv("LLMGW_BENCH_HEADER") or "Authorization"

    if path == nil or path == "" then
        return
    end

    for line in io.lines(path) do
        local value = line
        if header == "Authorization" then
            value = "Bearer " .. line
        end
        n = n + 1
        requests[n] = wrk.format(nil, nil, { [header] = value }, nil)
    end
end

function request()
    if n == 0 then
        return wrk.format(nil, nil, nil, nil)
    end
    i = i % n + 1
    return requests[i]
end
