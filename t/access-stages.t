# The access handler runs its checks as stages (token, keys, signature,
# claims, dpop, binding, scope, state, limits, done) and keeps in the
# request's ctx the stage it is at: a request that waits (here for a JWKS
# fetch) resumes at the stage that waited, and the token is parsed and
# its signature checked once a request.  The handler's debug lines show
# it: "llmgw access stage: NAME" each time a stage runs, "llmgw access:
# signature checked with key ..." for each signature verification.  A
# handler that started again from the token after a wait would show the
# earlier stages twice.
#
# The IdP is this nginx, as in t/jwks-remote.t; in TEST 2 it is two
# servers behind one round-robin upstream, so that the two fetches of one
# request get two documents: the keys before and after a rotation.
#
# repeat_each(2) runs every block twice against the same nginx: the second
# run finds the keys (and tokens) the first one fetched (and cached), and
# waits for nothing.

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket;
use LLMGW::LogPhase;
use LLMGW::Test;

repeat_each(2);

# per run: status, body, the stages seen
plan tests => repeat_each() * 3 * blocks();

no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('user_files', ">>> ok.txt\nok\n");

    $block->set_value('http_config', <<'_EOC_' . ($block->http_config // ''));
# this suite is not about iss and aud (t/claims.t is)
llmgw_jwt_issuer any;
llmgw_jwt_audience any;
_EOC_

    my $stage = 'stage: \w+';
    my $checked = 'signature checked with key "[^"]*": \w+';

    $block->set_value('grep_error_log',
                      qr/llmgw access(?: $stage|: $checked)/);
});

# the debug lines of stages run, of a signature checked; what follows the
# signature when every check passes (the blocks' eval sections call these
# as main::, being evaluated in Test::Base's filter package)
sub stages { join '', map { "llmgw access stage: $_\n" } @_ }

sub checked { qq{llmgw access: signature checked with key "$_[0]": $_[1]\n} }

sub passed { stages(qw(claims dpop binding scope state limits done)) }

run_tests();

__DATA__

=== TEST 1: a request that waits for the first fetch resumes at "keys"
The first run has no keys: it waits in the keys stage, resumes there, and
goes on from it: the token stage does not run again.  The second run has
the keys at once.
--- http_config
llmgw_jwks_zone idp:1m uri=/_jwks;
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_jwks idp;
    alias html/ok.txt;
}

location = /_jwks {
    internal;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/idp/jwks.json;
}

location = /idp/jwks.json {
    alias $TEST_NGINX_LLMGW_KEYS/jwks.json;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(key => 'rsa')
--- request
GET /t
--- response_body
ok
--- grep_error_log_out eval
[main::stages(qw(token keys keys signature))
 . main::checked('rsa1', 'valid') . main::passed(),
 main::stages(qw(token keys signature))
 . main::checked('rsa1', 'valid') . main::passed()]



=== TEST 2: a request that waits for a refetch resumes at "signature"
First run: the keys stage waits for the first fetch, which brings the keys
before the rotation (server 1).  The token's kid (rsa2) is not among them:
the signature stage waits for a refetch (server 2: the rotated keys) and
resumes with the token it parsed: no token or keys stage again, and one
signature checked, with the key that fetch brought.  Second run: rsa2 is
there at once.
--- http_config
llmgw_jwks_zone idp:1m uri=/_jwks cooldown=0;

upstream idp_rr {
    server 127.0.0.1:$TEST_NGINX_SERVER_PORT;
    server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
}

server {
    listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;

    location = /idp/jwks.json {
        alias $TEST_NGINX_LLMGW_KEYS/jwks-rotated.json;
    }
}
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_jwks idp;
    alias html/ok.txt;
}

location = /_jwks {
    internal;
    proxy_pass http://idp_rr/idp/jwks.json;
}

location = /idp/jwks.json {
    alias $TEST_NGINX_LLMGW_KEYS/jwks.json;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(key => 'rsa2')
--- request
GET /t
--- response_body
ok
--- grep_error_log_out eval
[main::stages(qw(token keys keys signature signature))
 . main::checked('rsa2', 'valid') . main::passed(),
 main::stages(qw(token keys signature))
 . main::checked('rsa2', 'valid') . main::passed()]



=== TEST 3: a cached token has its signature checked in the first run only
--- http_config
llmgw_token_cache_zone tokens:1m;
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(key => 'rsa')
--- request
GET /t
--- response_body
ok
--- grep_error_log_out eval
[main::stages(qw(token keys signature))
 . main::checked('rsa1', 'valid') . main::passed(),
 main::stages(qw(token keys signature)) . main::passed()]



=== TEST 4: a denial ends the list at the stage that denied
The token lacks the location's scope: the scope stage denies, and neither
state nor limits runs.
--- http_config
llmgw_scopes {
    all     text;
}
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_require_scope all;
    alias html/ok.txt;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(key => 'rsa', scope => 'text')
--- request
GET /t
--- error_code: 403
--- response_body
{"error":{"code":"insufficient_scope","message":"insufficient scope","scope":"all"}}
--- grep_error_log_out eval
main::stages(qw(token keys signature)) . main::checked('rsa1', 'valid')
. main::stages(qw(claims dpop binding scope))
