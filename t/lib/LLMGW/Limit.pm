package LLMGW::Limit;

# Copyright (C) llmgw authors
#
# What the llmgw_limit suites share, in shared memory or in Redis alike:
# the budget arithmetic (t/limit-budget.t, t/limit-redis-budget.t) and
# the openai SDK's retries on a rate limit (t/limit-sdk.t,
# t/limit-redis-sdk.t).  Core Perl and Test::More only.
#
#     budget_chat(max => 50, stream => 1)   # an Azure chat body
#     budget_reserve($body, 50)             # what a budget reserves for it
#     ratelimit_left($res, 'tok')           # r= of its RateLimit field
#
#     my $sdk = limit_sdk_run($zone, $sub); # t/sdk/limit-retry.mjs
#     limit_sdk_check($sdk);                # what the SDK must have seen

use strict;
use warnings;

use Exporter 'import';
use JSON::PP ();
use POSIX qw(ceil);
use Test::More;
use LLMGW::Nginx;
use LLMGW::Test qw(llmgw_keys_dir llmgw_token);

our @EXPORT = qw(budget_chat budget_chat_reserving budget_reserve
                 ratelimit_left limit_sdk_run limit_sdk_check);


# an Azure chat body of 3 input tokens (the mock counts words), with
# max_tokens when max => N, streamed when stream => 1
sub budget_chat {
    my (%o) = @_;
    my $max = defined $o{max} ? qq(,"max_tokens":$o{max}) : '';
    my $stream = $o{stream} ? ',"stream":true' : '';

    return qq({"messages":[{"role":"user","content":"one two three"}])
           . qq($max$stream});
}


# what a budget reserves: the maximum (or estimate=) + bytes / 4
sub budget_reserve {
    my ($body, $max) = @_;

    return $max + ceil(length($body) / 4);
}


# a chat body whose reservation is exactly $n, and its max_tokens (undef
# when no max_tokens gives $n)
sub budget_chat_reserving {
    my ($n) = @_;
    my ($max) = grep { budget_reserve(budget_chat(max => $_), $_) == $n }
                     1 .. $n;

    return (budget_chat(max => $max), $max);
}


# what the response's RateLimit field says is left of the limit $name
sub ratelimit_left {
    my ($res, $name) = @_;

    return ($res =~ /\r\nRateLimit: "\Q$name\E";r=(-?\d+);t=\d+\r\n/)[0]
           // 'none';
}


# An nginx with one chat a second per user ($zone: the llmgw_limit_zone
# line and what it needs, e.g. llmgw_redis), the openai Node SDK's client
# t/sdk/limit-retry.mjs against it as $sub; nginx stopped after it.
# { status => its exit status, out => what it printed, dir => the
# prefix, with logs/error.log }
sub limit_sdk_run {
    my ($zone, $sub) = @_;
    my $keys = llmgw_keys_dir();
    my $mock = "127.0.0.1:$ENV{TEST_NGINX_MOCK_PORT}";
    my $secrets = $ENV{TEST_NGINX_MOCK_SECRETS};
    my $dir = nginx_prefix();
    my $port = free_port();

    nginx_conf($dir, <<"_EOC_");
    llmgw_jwt_keys $keys/jwks.json;
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;
$zone
    server {
        listen 127.0.0.1:$port;

        location /azure-openai/ {
            llmgw_auth jwt;
            llmgw_token_header api-key authorization;
            llmgw_limit chat-pace zone=limits key=\$llmgw_sub rate=1r/s;
            llmgw_provider azure_openai;
            llmgw_pass_strip_prefix /azure-openai;
            llmgw_pass_api_key file=$secrets/azure.key;
            llmgw_pass http://$mock;
        }
    }
_EOC_

    my $pid = nginx_start($dir, $port)
        or BAIL_OUT('nginx did not start: ' . (nginx_check($dir))[1]);

    local $ENV{LLMGW_SDK_BASE} = "http://127.0.0.1:$port";
    local $ENV{LLMGW_SDK_TOKEN} = llmgw_token(sub => $sub, scope => 'text');

    my $out = `node t/sdk/limit-retry.mjs 2>&1`;
    my $status = $? >> 8;

    nginx_stop($pid);

    return { status => $status, out => $out, dir => $dir };
}


# the SDK retried by itself after retry-after-ms, and with maxRetries 0
# threw a RateLimitError with the gateway's Retry-After and JSON error
sub limit_sdk_check {
    my ($sdk) = @_;

    is($sdk->{status}, 0, 'the SDK client exited 0') or diag($sdk->{out});

    my ($line) = $sdk->{out} =~ /^(\{.*\})$/m;
    note($line // $sdk->{out});
    my $f = eval { JSON::PP->new->decode($line // '') } // {};

    my $r = $f->{retried} // {};
    is($r->{content}, 'Hello from the llmgw mock.',
       'retried: the chat completed');
    is_deeply($r->{statuses}, [429, 200], 'retried: a 429, then a 200');
    cmp_ok($r->{retryAfterMs} // 0, '>', 0,
           'retried: the 429 said retry-after-ms (the rest of the second)');
    cmp_ok($r->{retryAfterMs} // 0, '<=', 1000,
           'retried: at most 1000 ms');
    cmp_ok($r->{gapMs} // 0, '>=', ($r->{retryAfterMs} // 0) - 5,
           'retried: the SDK waited retry-after-ms');
    cmp_ok($r->{gapMs} // 1e9, '<', ($r->{retryAfterMs} // 0) + 400,
           'retried: and not its own longer backoff');

    my $x = $f->{refused} // {};
    ok($x->{thrown}, 'maxRetries 0: the call threw');
    ok($x->{rateLimitError}, 'maxRetries 0: a RateLimitError');
    is($x->{status}, 429, 'maxRetries 0: status 429');
    is($x->{retryAfter}, '1', 'maxRetries 0: Retry-After 1');
    is($x->{message}, 'limit chat-pace exceeded',
       'maxRetries 0: the JSON error names the limit');
    is($x->{attempts}, 1, 'maxRetries 0: one attempt');
}


1;
