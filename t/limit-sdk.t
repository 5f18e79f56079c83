# The openai Node SDK against a gateway location with a rate limit (one
# chat a second per user): on the gateway's 429 the SDK backs off by the
# retry-after-ms it was sent and retries by itself (maxRetries), as its
# documentation says; with maxRetries 0 the caller gets a RateLimitError
# carrying the gateway's Retry-After and JSON error.  The client is
# t/sdk/limit-retry.mjs; this file starts the gateway and checks what
# the client found.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use LLMGW::Limit;

for my $v (qw(TEST_NGINX_LOAD_MODULES TEST_NGINX_MOCK_PORT
              TEST_NGINX_MOCK_SECRETS))
{
    plan skip_all => "$v is not set (t/run-tests.sh sets it)"
        unless $ENV{$v};
}

plan skip_all => 'node_modules missing: npm ci --prefix t/sdk'
    unless -d 't/sdk/node_modules';

my $sdk = limit_sdk_run(<<'_EOC_', "sdk-$$");
    llmgw_limit_zone limits:1m;
_EOC_

limit_sdk_check($sdk);

done_testing();
