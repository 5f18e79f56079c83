# t/limit-sdk.t with the limit in Redis (the suite's redis-server,
# TEST_NGINX_REDIS_PORT): the openai Node SDK against a gateway location
# with a rate limit (one chat a second per user): on the gateway's 429
# the SDK backs off by the retry-after-ms it was sent and retries by
# itself (maxRetries), as its documentation says; with maxRetries 0 the
# caller gets a RateLimitError carrying the gateway's Retry-After and
# JSON error.  The client is
# t/sdk/limit-retry.mjs; this file starts the gateway and checks what
# the client found.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use LLMGW::Limit;

for my $v (qw(TEST_NGINX_LOAD_MODULES TEST_NGINX_MOCK_PORT
              TEST_NGINX_MOCK_SECRETS TEST_NGINX_REDIS_PORT))
{
    plan skip_all => "$v is not set (t/run-tests.sh sets it)"
        unless $ENV{$v};
}

plan skip_all => 'node_modules missing: npm ci --prefix t/sdk'
    unless -d 't/sdk/node_modules';

my $sdk = limit_sdk_run(<<"_EOC_", "sdk-redis-$$-" . time());
    llmgw_redis 127.0.0.1:$ENV{TEST_NGINX_REDIS_PORT};
    llmgw_limit_zone limits:1m redis timeout=500ms down=closed;
_EOC_

open my $fh, '<', "$sdk->{dir}/logs/error.log" or die $!;
my @policy = grep { /down=closed applies/ } <$fh>;
close $fh;
is(scalar @policy, 0, 'Redis answered every take (no policy line)')
    or diag(@policy);

limit_sdk_check($sdk);

done_testing();
