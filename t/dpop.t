# DPoP (RFC 9449): a token bound to a client key (cnf.jkt) is accepted with
# the DPoP scheme and one proof per request, each check of section 4.3
# broken one at a time; bound tokens never pass as bearer tokens; server
# nonces; the external URL behind a proxy; the proof and the client's
# Authorization never reach the provider.  Proofs and tokens are minted
# when each block runs (--- more_headers_late), and repeat_each(1): every
# proof can be used once.

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket;
use LLMGW::LogPhase;
use LLMGW::Test qw(:DEFAULT llmgw_late_headers llmgw_quiet_must_die
                   llmgw_dpop llmgw_dpop_jkt llmgw_dpop_nonce);
use File::Temp;

repeat_each(1);

plan tests => repeat_each() * 103;

no_shuffle();

# the shared nonce secret of the nonce blocks
our $SecretFile = File::Temp->new(TMPDIR => 1);
print $SecretFile "dpop nonce secret of t/dpop.t\n";
close $SecretFile;
$ENV{TEST_NGINX_DPOP_SECRET} = $SecretFile->filename;

# nonces of a slot that lasts for years, so that blocks read now and run
# later agree on them: the current slot's, the previous one's (still good,
# a fresh one comes with the answer), the next one's (never given yet)
our $LIFE = 1000000000;
our $NONCE = llmgw_dpop_nonce($SecretFile->filename, $LIFE);
our $OLD_NONCE = llmgw_dpop_nonce($SecretFile->filename, $LIFE,
                                  time - $LIFE);
our $NEXT_NONCE = llmgw_dpop_nonce($SecretFile->filename, $LIFE,
                                   time + $LIFE);
(our $FORGED = $NONCE) =~ s/.$/$& eq 'A' ? 'Q' : 'A'/e;

our $U = 'http://localhost/t';
our $JKT = llmgw_dpop_jkt('ec256');

our $CHALLENGE = 'DPoP realm="llmgw", error="invalid_dpop_proof", '
                 . 'error_description="%s", algs="PS256 ES256 EdDSA"';

# a token bound to ec256's key (or unbound: bound => 0)
sub bound_token {
    my (%o) = @_;
    my $bound = exists $o{bound} ? delete $o{bound} : 1;
    $o{claims} = { cnf => { jkt => $JKT } } if $bound;
    return llmgw_token(sub => 'alice', %o);
}

# Authorization: DPoP and one proof for it, proof options as llmgw_dpop's
sub dpop_headers {
    my ($token, %p) = @_;
    return "Authorization: DPoP $token\nDPoP: "
           . llmgw_dpop(htu => $U, token => $token, %p);
}

sub challenge {
    return sprintf $CHALLENGE, @_;
}

add_block_preprocessor(sub {
    my $block = shift;

    llmgw_late_headers($block);
    llmgw_quiet_must_die($block);

    $block->set_value('http_config', <<'_EOC_' . ($block->http_config // ''));
    llmgw_dpop_zone llmgw_dpop:1m;
    llmgw_token_cache_zone llmgw_tokens:1m;

    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;
_EOC_

    $block->set_value('config', <<'_EOC_' . ($block->config // ''));
    location = /echo {
        return 200 "binding=$http_x_binding cache=$http_x_cache\n";
    }
_EOC_
});

run_tests();

llmgw_quiet_must_die(undef);

__DATA__

=== TEST 1: a valid proof; the cached token's next request needs its own
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_dpop required;
    proxy_set_header X-Binding $llmgw_token_binding;
    proxy_set_header X-Cache $llmgw_token_cache;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
}
--- more_headers_late
my $t = bound_token(); [dpop_headers($t), dpop_headers($t), dpop_headers($t, htm => 'POST')]
--- request eval
["GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 200, 401]
--- response_body_like eval
["^binding=dpop cache=MISS\n\\z", "^binding=dpop cache=HIT\n\\z",
 "DPoP proof htm does not match the request"]



=== TEST 2: a replayed proof is refused, with the DPoP challenge
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_dpop required;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
}
--- more_headers_late
my $h = dpop_headers(bound_token()); [$h, $h]
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 401]
--- response_headers eval
["WWW-Authenticate:", "WWW-Authenticate: " . ::challenge("DPoP proof replayed")]
--- response_body eval
["binding= cache=\n",
 qq({"error":{"code":"invalid_dpop_proof","message":"DPoP proof replayed"}}\n)]



=== TEST 3: each check of RFC 9449 section 4.3, broken one at a time
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_dpop required;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
}
--- more_headers_late
my $t = bound_token();
[dpop_headers($t, htm => 'POST'),
 dpop_headers($t, htu => "$::U?x=1"),
 dpop_headers($t, htu => 'http://evil.example/t'),
 dpop_headers($t, iat => -120),
 dpop_headers($t, iat => 120),
 dpop_headers($t, private_jwk => 1),
 dpop_headers($t, hs256 => 1),
 dpop_headers($t, alg => 'ES256', key => 'ec256', typ => 'JWT'),
 dpop_headers($t, token => bound_token(sub => 'mallory')),
 dpop_headers($t, no_ath => 1),
 dpop_headers($t, key => 'ed25519'),
 dpop_headers($t, jwk_of => 'ec384'),
 dpop_headers($t) . "\nDPoP: " . llmgw_dpop(htu => $::U, token => $t),
 "Authorization: DPoP $t"]
--- request eval
[("GET /t") x 14]
--- error_code eval
[(401) x 14]
--- response_headers eval
["WWW-Authenticate: " . ::challenge("DPoP proof htm does not match the request"),
 "WWW-Authenticate: " . ::challenge("DPoP proof htu has a query or fragment"),
 "WWW-Authenticate: " . ::challenge("DPoP proof htu does not match the request"),
 "WWW-Authenticate: " . ::challenge("DPoP proof iat outside the accepted window"),
 "WWW-Authenticate: " . ::challenge("DPoP proof iat outside the accepted window"),
 "WWW-Authenticate: " . ::challenge("DPoP proof jwk holds a private key"),
 "WWW-Authenticate: " . ::challenge("DPoP proof algorithm not allowed"),
 "WWW-Authenticate: " . ::challenge("DPoP proof typ is not dpop+jwt"),
 "WWW-Authenticate: " . ::challenge("DPoP proof ath does not match the access token"),
 "WWW-Authenticate: " . ::challenge("DPoP proof without ath"),
 'WWW-Authenticate: DPoP realm="llmgw", error="invalid_token", error_description="DPoP proof key does not match the token\'s cnf.jkt", algs="PS256 ES256 EdDSA"',
 "WWW-Authenticate: " . ::challenge("invalid DPoP proof signature"),
 "WWW-Authenticate: " . ::challenge("more than one DPoP proof"),
 "WWW-Authenticate: " . ::challenge("missing DPoP proof")]



=== TEST 4: a bound token is never a bearer token; required wants DPoP
--- config
location = /optional {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_dpop optional;
    proxy_set_header X-Binding $llmgw_token_binding;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
}
location = /off {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
}
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_dpop required;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
}
--- more_headers_late
my $b = bound_token(); my $u = bound_token(bound => 0);
["Authorization: Bearer $b", "Authorization: Bearer $b",
 "Authorization: Bearer $u", "Authorization: Bearer $u", "",
 dpop_headers($u)]
--- request eval
["GET /optional", "GET /off", "GET /optional", "GET /t", "GET /t", "GET /t"]
--- error_code eval
[401, 401, 200, 401, 401, 401]
--- response_headers eval
['WWW-Authenticate: Bearer realm="llmgw", error="invalid_token", error_description="DPoP-bound token presented as a bearer token"',
 'WWW-Authenticate: Bearer realm="llmgw", error="invalid_token", error_description="DPoP-bound token presented as a bearer token"',
 "WWW-Authenticate:",
 'WWW-Authenticate: DPoP realm="llmgw", algs="PS256 ES256 EdDSA"',
 'WWW-Authenticate: DPoP realm="llmgw", algs="PS256 ES256 EdDSA"',
 'WWW-Authenticate: DPoP realm="llmgw", error="invalid_token", error_description="token is not DPoP-bound", algs="PS256 ES256 EdDSA"']
--- response_body_like eval
["DPoP-bound token presented as a bearer token",
 "DPoP-bound token presented as a bearer token",
 "^binding= cache=\n\\z", "DPoP required", "missing DPoP token",
 "token is not DPoP-bound"]



=== TEST 5: optional: a DPoP token with its proof passes, as DPoP
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_dpop optional;
    llmgw_dpop_algorithms ES256;
    proxy_set_header X-Binding $llmgw_token_binding;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
}
--- more_headers_late
my $t = bound_token(); [dpop_headers($t), dpop_headers($t, htm => 'PUT')]
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 401]
--- response_headers eval
["WWW-Authenticate:",
 'WWW-Authenticate: DPoP realm="llmgw", error="invalid_dpop_proof", error_description="DPoP proof htm does not match the request", algs="ES256"']
--- response_body_like eval
["^binding=dpop cache=\n\\z", "htm does not match"]



=== TEST 6: htu normalisation: scheme and host case, default port, %-encoding
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_dpop required;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
}
--- more_headers_late
my $t = bound_token();
[dpop_headers($t, htu => 'HTTP://LocalHost:80/%74'),
 dpop_headers($t, htu => 'http://localhost:8080/t'),
 dpop_headers($t, htu => 'https://localhost/t')]
--- request eval
["GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 401, 401]
--- response_body_like eval
["^binding= cache=\n\\z", "htu does not match", "htu does not match"]



=== TEST 7: behind a proxy, htu is the configured external URL
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_dpop required;
    llmgw_dpop_url HTTPS://API.example.com:443/;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
}
--- more_headers_late
my $t = bound_token();
[dpop_headers($t, htu => 'https://api.example.com/t'),
 dpop_headers($t)]
--- request eval
["GET /t?api-version=1", "GET /t"]
--- error_code eval
[200, 401]
--- response_body_like eval
["^binding= cache=\n\\z", "htu does not match"]



=== TEST 8: server nonces: asked for, accepted, the previous slot's renewed
--- http_config
llmgw_dpop_nonce_secret file=$TEST_NGINX_DPOP_SECRET;
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_dpop required;
    llmgw_dpop_nonce 1000000000s;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
}
--- more_headers_late
my $t = bound_token();
[dpop_headers($t), dpop_headers($t, nonce => $::NONCE),
 dpop_headers($t, nonce => $::OLD_NONCE),
 dpop_headers($t, nonce => $::NEXT_NONCE),
 dpop_headers($t, nonce => $::FORGED)]
--- request eval
[("GET /t") x 5]
--- error_code eval
[401, 200, 200, 401, 401]
--- response_headers eval
[{ 'WWW-Authenticate' => 'DPoP realm="llmgw", error="use_dpop_nonce", error_description="DPoP nonce required", algs="PS256 ES256 EdDSA"',
   'DPoP-Nonce' => $::NONCE },
 { 'DPoP-Nonce' => '' },
 { 'DPoP-Nonce' => $::NONCE },
 { 'WWW-Authenticate' => 'DPoP realm="llmgw", error="use_dpop_nonce", error_description="DPoP nonce invalid or stale", algs="PS256 ES256 EdDSA"',
   'DPoP-Nonce' => $::NONCE },
 { 'WWW-Authenticate' => 'DPoP realm="llmgw", error="use_dpop_nonce", error_description="DPoP nonce invalid or stale", algs="PS256 ES256 EdDSA"',
   'DPoP-Nonce' => $::NONCE }]
--- response_body_like eval
["DPoP nonce required", "^binding= cache=\n\\z", "^binding= cache=\n\\z",
 "DPoP nonce invalid or stale", "DPoP nonce invalid or stale"]



=== TEST 9: nonces off: a proof's nonce is not looked at
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_dpop required;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
}
--- more_headers_late
dpop_headers(bound_token(), nonce => 'anything')
--- request
GET /t
--- error_code: 200
--- response_headers
DPoP-Nonce:



=== TEST 10: an llmgw_dpop_url with a path is refused
--- http_config
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_dpop required;
    llmgw_dpop_url https://api.example.com/v1;
}
--- request
GET /t
--- must_die
--- error_log
invalid "llmgw_dpop_url" "https://api.example.com/v1": expected http(s)://host[:port]



=== TEST 11: an absolute-form request line: its authority is htu's, not Host
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_dpop required;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
}
--- more_headers_late
my $t = bound_token();
[dpop_headers($t) . "\nHost: other.example",
 dpop_headers($t, htu => 'http://other.example/t') . "\nHost: other.example"]
--- request eval
["GET http://localhost/t", "GET http://localhost/t"]
--- error_code eval
[200, 401]
--- response_body_like eval
["^binding= cache=\n\\z", "htu does not match"]



=== TEST 99: llmgw_fapi takes a DPoP-bound token with a verified proof as sender-constrained; an unbound bearer token and a bound one without the DPoP scheme are refused
--- config
location = /t {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_fapi on;
    llmgw_dpop optional;
    proxy_set_header X-Binding $llmgw_token_binding;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
}
--- more_headers_late
my $t = bound_token(key => 'ec256');
my $u = bound_token(key => 'ec256', bound => 0);
[dpop_headers($t), "Authorization: Bearer $u", "Authorization: Bearer $t"]
--- request eval
["GET /t", "GET /t", "GET /t"]
--- error_code eval
[200, 401, 401]
--- response_body eval
["binding=dpop cache=\n",
 qq({"error":{"code":"invalid_token","message":"sender-constrained token required: bearer token without binding"}}\n),
 qq({"error":{"code":"invalid_token","message":"DPoP-bound token presented as a bearer token"}}\n)]
