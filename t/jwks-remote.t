# Keys fetched from the IdP's JWKS URL (llmgw_jwks_zone): the first fetch,
# a rotation picked up when a token names an unknown kid, the cooldown that
# limits refetches, failed fetches that keep the last good keys, bodies
# over max_size, large bodies, a background refresh, a fetch over its
# timeout, configuration errors.
#
# The mock IdP is this nginx: /_jwks is the internal location a deployment
# writes (here it proxy_passes to /idp/...), and the client's X-IdP header,
# copied into $idp_doc by the location /t, names the document the "IdP"
# serves at the moment, so that a test can rotate the IdP's keys between
# two requests.  The IdP refuses any request that carries an Authorization
# header: the gateway must send none of the client's headers.
#
# repeat_each(2) runs every block twice against the same nginx, so the
# second run starts with what the first one fetched; each block is written
# to reach the same verdicts in both runs.

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket;
use LLMGW::LogPhase;
use LLMGW::Test qw(:DEFAULT llmgw_quiet_must_die);

repeat_each(2);

# per run: 3 for each request (status, body, and the error log pattern
# checked after it), 1 for a grep_error_log, 2 for a must_die block
plan tests => repeat_each() * (
      3 * 1 + 1         # TEST 1: 1 request, grep_error_log
    + 3 * 3             # TEST 2
    + 3 * 3             # TEST 3
    + 3 * 3             # TEST 4
    + 3 * 3             # TEST 5
    + 3 * 3             # TEST 6
    + 3 * 3             # TEST 7
    + 3 * 1             # TEST 8: 1 request, error_log
    + 3 * 1             # TEST 9: 1 request, error_log
    + 3 * 3             # TEST 10
    + 3 * 1             # TEST 11
    + 3 * 1             # TEST 12: status, body, grep_error_log
    + 2 * 5             # TEST 13-17: must_die, error_log
);

no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    # the [emerg] of a must_die block's nginx: in its error log, checked,
    # and not on prove's output
    llmgw_quiet_must_die($block);

    $block->set_value('user_files', <<'_EOF_' . ($block->user_files // ''));
>>> ok.txt
ok
_EOF_

    return if defined $block->must_die && defined $block->config;

    $block->set_value('config', <<'_EOC_' . ($block->config // ''));
location = /t {
    set $idp_doc $http_x_idp;
    llmgw_auth jwt;
    llmgw_jwt_jwks idp;
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;
    alias html/ok.txt;
}

location = /_jwks {
    internal;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/idp/$idp_doc;
    proxy_read_timeout 5s;
    proxy_ignore_client_abort on;
}

location /idp/keys/ {
    if ($http_authorization) {
        return 403;
    }
    alias $TEST_NGINX_LLMGW_KEYS/;
}

location /idp/files/ {
    if ($http_authorization) {
        return 403;
    }
    alias html/;
}
_EOC_
});

run_tests();

llmgw_quiet_must_die(undef);

__DATA__

=== TEST 1: the first request fetches the keys and is checked against them
--- http_config
llmgw_jwks_zone idp:1m uri=/_jwks;
--- more_headers eval
"X-IdP: keys/jwks.json\nAuthorization: Bearer " . llmgw_token(key => 'rsa')
--- request
GET /t
--- response_body
ok
--- grep_error_log eval
qr/llmgw_jwks_zone "idp": (?:fetching|\d+ keys from)[^,]*/
--- grep_error_log_out eval
[qq{llmgw_jwks_zone "idp": fetching "/_jwks"\n}
 . qq{llmgw_jwks_zone "idp": 5 keys from "/_jwks"\n},
 ""]
--- no_error_log
[error]



=== TEST 2: a rotation is picked up when a token names an unknown kid
The IdP moves from jwks.json (rsa1 ...) to jwks-rotated.json (rsa2 only):
a token signed with rsa2 makes the gateway fetch again at once (cooldown=0
here) and is accepted; a token of the retired rsa1 is then refused, also
when it was verified (and cached) before.
--- http_config
llmgw_jwks_zone idp:1m uri=/_jwks cooldown=0;
llmgw_token_cache_zone tokens:1m;
--- more_headers eval
my $old = llmgw_token(key => 'rsa');
["X-IdP: keys/jwks.json\nAuthorization: Bearer $old",
 "X-IdP: keys/jwks-rotated.json\nAuthorization: Bearer "
 . llmgw_token(key => 'rsa2'),
 "X-IdP: keys/jwks-rotated.json\nAuthorization: Bearer $old"]
--- request eval
["GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 401]
--- response_body_like eval
["^ok\$", "^ok\$", ""]
--- no_error_log
[error]



=== TEST 3: within the cooldown an unknown kid fetches nothing
The IdP has rotated, but the last fetch is more recent than the cooldown:
tokens of the new key are refused until it has passed, and the old keys
stay in use.
--- http_config
llmgw_jwks_zone idp:1m uri=/_jwks cooldown=30s;
--- more_headers eval
my $new = llmgw_token(key => 'rsa2');
["X-IdP: keys/jwks.json\nAuthorization: Bearer " . llmgw_token(key => 'rsa'),
 "X-IdP: keys/jwks-rotated.json\nAuthorization: Bearer $new",
 "X-IdP: keys/jwks-rotated.json\nAuthorization: Bearer $new"]
--- request eval
["GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 401, 401]
--- response_body_like eval
["^ok\$", "", ""]
--- no_error_log
[error]



=== TEST 4: a fetch that fails (404) keeps the last good keys
--- http_config
llmgw_jwks_zone idp:1m uri=/_jwks cooldown=0;
--- more_headers eval
my $old = llmgw_token(key => 'rsa');
["X-IdP: keys/jwks.json\nAuthorization: Bearer $old",
 "X-IdP: keys/missing.json\nAuthorization: Bearer "
 . llmgw_token(key => 'rsa2'),
 "X-IdP: keys/missing.json\nAuthorization: Bearer $old"]
--- request eval
["GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 401, 200]
--- response_body_like eval
["^ok\$", "", "^ok\$"]
--- no_error_log
[alert]



=== TEST 5: a document that is not a JWKS keeps the last good keys
--- http_config
llmgw_jwks_zone idp:1m uri=/_jwks cooldown=0;
--- user_files
>>> broken.json
{"keys": [{"kty": "RSA", "kid": "rsa2", "n": 
--- more_headers eval
my $old = llmgw_token(key => 'rsa');
["X-IdP: keys/jwks.json\nAuthorization: Bearer $old",
 "X-IdP: files/broken.json\nAuthorization: Bearer "
 . llmgw_token(key => 'rsa2'),
 "X-IdP: files/broken.json\nAuthorization: Bearer $old"]
--- request eval
["GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 401, 200]
--- response_body_like eval
["^ok\$", "", "^ok\$"]
--- no_error_log
[alert]



=== TEST 6: a document without a usable key keeps the last good keys
jwks-rsa1024.json has one RSA key of 1024 bits, which is refused.
--- http_config
llmgw_jwks_zone idp:1m uri=/_jwks cooldown=0;
--- more_headers eval
my $old = llmgw_token(key => 'rsa');
["X-IdP: keys/jwks.json\nAuthorization: Bearer $old",
 "X-IdP: keys/jwks-rsa1024.json\nAuthorization: Bearer "
 . llmgw_token(key => 'rsa1024'),
 "X-IdP: keys/jwks-rsa1024.json\nAuthorization: Bearer $old"]
--- request eval
["GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 401, 200]
--- response_body_like eval
["^ok\$", "", "^ok\$"]
--- no_error_log
[alert]



=== TEST 7: a body over max_size keeps the last good keys
big.json is jwks-rotated.json grown past max_size=4k: valid, but refused.
--- http_config
llmgw_jwks_zone idp:1m uri=/_jwks cooldown=0 max_size=4k;
--- user_files eval
my $keys = $ENV{TEST_NGINX_LLMGW_KEYS};
open my $in, '<', "$keys/jwks-rotated.json" or die "$keys: $!";
my $doc = do { local $/; <$in> };
close $in;
$doc =~ s/^\s*\{/{"padding": "@{['x' x 6000]}",/ or die "no JSON object";
">>> big.json\n$doc"
--- more_headers eval
my $old = llmgw_token(key => 'rsa');
["X-IdP: keys/jwks.json\nAuthorization: Bearer $old",
 "X-IdP: files/big.json\nAuthorization: Bearer "
 . llmgw_token(key => 'rsa2'),
 "X-IdP: files/big.json\nAuthorization: Bearer $old"]
--- request eval
["GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 401, 200]
--- response_body_like eval
["^ok\$", "", "^ok\$"]
--- no_error_log
[alert]



=== TEST 8: a first fetch over max_size: refused, logged, the client answered
--- http_config
llmgw_jwks_zone idp:1m uri=/_jwks cooldown=0 max_size=4k;
--- user_files eval
">>> big.json\n{\"keys\": [], \"padding\": \"" . ('x' x 8000) . "\"}\n"
--- more_headers eval
"X-IdP: files/big.json\nAuthorization: Bearer " . llmgw_token(key => 'rsa')
--- request
GET /t
--- error_code: 401
--- response_body_unlike
xxxx
--- error_log
the response of "/_jwks" is larger than max_size=4096



=== TEST 9: the IdP is down: 401, the status logged, the worker fine
--- http_config
llmgw_jwks_zone idp:1m uri=/_down cooldown=0;
--- config
location = /_down {
    internal;
    proxy_pass http://127.0.0.1:1/;
}
--- more_headers eval
"Authorization: Bearer " . llmgw_token(key => 'rsa')
--- request
GET /t
--- error_code: 401
--- response_body_unlike
^ok$
--- error_log
llmgw_jwks_zone "idp": "/_down" returned status 502, keeping the previous keys



=== TEST 10: a refresh runs in the background with the keys there are
refresh=1ms: every request finds the document due.  The second request is
served with the keys fetched by the first (rsa1) while a background fetch
gets the rotated set; the third (rsa2) passes on what that fetch stored,
even though the IdP now answers 404 to any further fetch.
--- http_config
llmgw_jwks_zone idp:1m uri=/_jwks refresh=1ms cooldown=0;
--- more_headers eval
my $old = llmgw_token(key => 'rsa');
["X-IdP: keys/jwks.json\nAuthorization: Bearer $old",
 "X-IdP: keys/jwks-rotated.json\nAuthorization: Bearer $old",
 "X-IdP: keys/missing.json\nAuthorization: Bearer "
 . llmgw_token(key => 'rsa2')]
--- request eval
["GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 200]
--- response_body eval
["ok\n", "ok\n", "ok\n"]
--- no_error_log
[alert]



=== TEST 11: a JWKS larger than nginx's subrequest and proxy buffers is fine
64k of padding, far over the default subrequest_output_buffer_size and
proxy_buffer_size (4k or 8k): neither limits the document, max_size does.
--- http_config
llmgw_jwks_zone idp:1m uri=/_jwks max_size=100k;
--- user_files eval
my $keys = $ENV{TEST_NGINX_LLMGW_KEYS};
open my $in, '<', "$keys/jwks.json" or die "$keys: $!";
my $doc = do { local $/; <$in> };
close $in;
$doc =~ s/^\s*\{/{"padding": "@{['x' x 65536]}",/ or die "no JSON object";
">>> large.json\n$doc"
--- more_headers eval
"X-IdP: files/large.json\nAuthorization: Bearer " . llmgw_token(key => 'rsa')
--- request
GET /t
--- response_body
ok
--- no_error_log
[error]



=== TEST 12: a fetch slower than timeout= counts as failed
The IdP sends the document at 512 bytes/s (about 3s); timeout=1s.  The
attempt is given up after 1s; the response that comes later is not used,
and the request is refused.  The second run is within the cooldown.
--- http_config
llmgw_jwks_zone idp:1m uri=/_jwks timeout=1s cooldown=30s;
--- config
location /idp/slow/ {
    limit_rate 512;
    alias $TEST_NGINX_LLMGW_KEYS/;
}
--- more_headers eval
"X-IdP: slow/jwks.json\nAuthorization: Bearer " . llmgw_token(key => 'rsa')
--- request
GET /t
--- error_code: 401
--- response_body_unlike
^ok$
--- grep_error_log eval
qr/llmgw_jwks_zone "idp": (?:fetching "[^"]*" timed out[^,]*|late response not used)/
--- grep_error_log_out eval
[qq{llmgw_jwks_zone "idp": fetching "/_jwks" timed out after 1000 ms\n}
 . qq{llmgw_jwks_zone "idp": late response not used\n},
 ""]
--- timeout: 10



=== TEST 13: a location naming an undeclared zone stops nginx
--- http_config
llmgw_jwks_zone other:1m uri=/_jwks;
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_jwks nope;
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;
    alias html/ok.txt;
}
--- must_die
--- error_log eval
qr/\[emerg\] .*unknown llmgw_jwks_zone "nope" in \S+nginx\.conf:\d+/



=== TEST 14: a zone declared twice stops nginx
--- http_config
llmgw_jwks_zone idp:1m uri=/_jwks;
llmgw_jwks_zone idp:1m uri=/_jwks2;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*duplicate llmgw_jwks_zone "idp"/



=== TEST 15: a zone without uri= stops nginx
--- http_config
llmgw_jwks_zone idp:1m refresh=1m;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*"llmgw_jwks_zone" must have the "uri" parameter/



=== TEST 16: a zone too small for its max_size stops nginx
--- http_config
llmgw_jwks_zone idp:256k uri=/_jwks max_size=256k;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*zone "idp:256k" is too small for max_size=262144/



=== TEST 17: an unknown parameter stops nginx
--- http_config
llmgw_jwks_zone idp:1m uri=/_jwks refresh=1m retries=3;
--- config
--- must_die
--- error_log eval
qr/\[emerg\] .*invalid parameter "retries=3"/
