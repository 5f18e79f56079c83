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
use JSON::PP;
use LLMGW::Test qw(:all);
use LLMGW::Nginx;

for my $v (qw(TEST_NGINX_LOAD_MODULES TEST_NGINX_MOCK_PORT
              TEST_NGINX_MOCK_SECRETS TEST_NGINX_REDIS_PORT))
{
    plan skip_all => "$v is not set (t/run-tests.sh sets it)"
        unless $ENV{$v};
}

plan skip_all => 'node_modules missing: npm ci --prefix t/sdk'
    unless -d 't/sdk/node_modules';

my $keys = llmgw_keys_dir();
my $mock = "127.0.0.1:$ENV{TEST_NGINX_MOCK_PORT}";
my $secrets = $ENV{TEST_NGINX_MOCK_SECRETS};
my $dir = nginx_prefix();
my $port = free_port();

nginx_conf($dir, <<"_EOC_");
    llmgw_jwt_keys $keys/jwks.json;
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;
    llmgw_redis 127.0.0.1:$ENV{TEST_NGINX_REDIS_PORT};
    llmgw_limit_zone limits:1m redis timeout=500ms down=closed;

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

$ENV{LLMGW_SDK_BASE} = "http://127.0.0.1:$port";
$ENV{LLMGW_SDK_TOKEN} = llmgw_token(sub => "sdk-redis-$$-" . time(),
                                    scope => 'text');

my $out = `node t/sdk/limit-retry.mjs 2>&1`;
my $status = $? >> 8;

nginx_stop($pid);

open my $fh, '<', "$dir/logs/error.log" or die $!;
my @policy = grep { /down=closed applies/ } <$fh>;
close $fh;
is(scalar @policy, 0, 'Redis answered every take (no policy line)')
    or diag(@policy);

is($status, 0, 'the SDK client exited 0') or diag($out);

my ($line) = $out =~ /^(\{.*\})$/m;
note($line // $out);
my $f = eval { JSON::PP->new->decode($line // '') } // {};

my $r = $f->{retried} // {};
is($r->{content}, 'Hello from the llmgw mock.',
   'retried: the chat completed');
is_deeply($r->{statuses}, [429, 200], 'retried: a 429, then a 200');
cmp_ok($r->{retryAfterMs} // 0, '>', 0,
       'retried: the 429 said retry-after-ms (the rest of the second)');
cmp_ok($r->{retryAfterMs} // 0, '<=', 1000, 'retried: at most 1000 ms');
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

done_testing();
