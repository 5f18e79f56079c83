# Attacks on the sender-constrained tokens of issue 12 (DPoP, RFC 9449;
# certificate binding, RFC 8705) and on what comes with them (the
# resource_metadata challenge parameter): each request is one attempt to
# get past a check, and must be refused with the exact status, error and
# description, or, where the text is legitimate, pass.  Proofs are signed
# from raw JSON text by t/attack/raw-jws, so that duplicate members, odd
# types and odd spellings reach the parser as an attacker would send
# them.  repeat_each(1): every proof can be used once.

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket;
use LLMGW::Test qw(:DEFAULT llmgw_late_headers llmgw_quiet_must_die
                   llmgw_dpop llmgw_dpop_jkt llmgw_run $PYTHON);
use Digest::SHA qw(sha256);
use MIME::Base64 qw(encode_base64 encode_base64url);
use File::Spec;
use JSON::PP;

repeat_each(1);

plan tests => repeat_each() * (5 * (1 + 14 + 14 + 1 + 19 + 3 + 9 + 8 + 3 + 3 + 4 + 7 + 17 + 6) + 6 * 2);

no_shuffle();

our $U = 'http://localhost/t';
our $JKT = llmgw_dpop_jkt('ec256');
our $RAW = File::Spec->rel2abs('t/attack/raw-jws');
our $HDR = '{"typ":"dpop+jwt","alg":"ES256","jwk":@JWK@}';

# a proof signed by KEY (ec256) with SIGN_ALG (ES256) over raw texts;
# payload defaults to a valid one for $U and the token
sub raw_proof {
    my (%o) = @_;
    my $payload = $o{payload}
        // '{"jti":"@JTI@","htm":"GET","htu":"' . ($o{htu} // $U)
           . '","iat":@NOW@,"ath":"@ATH@"}';
    my ($st, $out, $err) = llmgw_run($PYTHON, $RAW,
        '--key', File::Spec->catfile(llmgw_keys_dir(),
                                     ($o{key} // 'ec256') . '.key'),
        '--sign-alg', $o{sign_alg} // 'ES256',
        '--header', $o{header} // $HDR,
        '--payload', $payload,
        '--token', $o{token} // '');
    die "raw-jws: $err" if $st != 0;
    chomp $out;
    return $out;
}

sub bound_token {
    my (%o) = @_;
    $o{claims} //= { cnf => { jkt => $JKT } };
    return llmgw_token(sub => 'alice', %o);
}

sub raw_headers {
    my ($t, %o) = @_;
    return ($o{scheme} // 'DPoP') . " $t" if $o{only_auth};
    return "Authorization: " . ($o{scheme} // 'DPoP') . " $t\nDPoP: "
           . raw_proof(token => $t, %o);
}

# the JSON body of a refusal
sub body {
    my ($code, $msg) = @_;
    return qq({"error":{"code":"$code","message":"$msg"}}\n);
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
        return 200 "binding=$http_x_binding\n";
    }
    location = /t {
        llmgw_auth jwt;
        llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
        llmgw_dpop required;
        proxy_set_header X-Binding $llmgw_token_binding;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
_EOC_

    $block->set_value('no_error_log', "[alert]\n[crit]\n[emerg]\n")
        unless defined $block->no_error_log;
});

run_tests();

llmgw_quiet_must_die(undef);

__DATA__

=== TEST 1: control: raw-jws's valid proof passes, so refusals below are the checks'
--- more_headers_late
[raw_headers(bound_token())]
--- request eval
["GET /t"]
--- error_code eval
[200]
--- response_body eval
["binding=dpop\n"]



=== TEST 2: the proof's header: duplicates, alg spellings, crit, jwk tricks
--- more_headers_late
my $t = bound_token();
my $jwk = '{"crv":"P-256","kty":"EC","x":"AAAA","y":"AAAA"}';
[raw_headers($t, header => '{"typ":"JWT","typ":"dpop+jwt","alg":"ES256","jwk":@JWK@}'),
 raw_headers($t, header => '{"typ":"dpop+jwt","alg":"none","alg":"ES256","jwk":@JWK@}'),
 raw_headers($t, header => '{"typ":"dpop+jwt","alg":"es256","jwk":@JWK@}'),
 raw_headers($t, header => '{"typ":"dpop+jwt","alg":"Es256","jwk":@JWK@}'),
 raw_headers($t, header => '{"typ":"dpop+jwt","alg":"ES256","jwk":@JWK@,"jwk":@JWK@}'),
 raw_headers($t, header => '{"typ":"dpop+jwt","alg":"ES256","crit":["exp"],"exp":1,"jwk":@JWK@}'),
 raw_headers($t, header => '{"typ":"dpop+jwt","alg":"ES256"}'),
 raw_headers($t, header => '{"typ":"dpop+jwt","alg":"ES256","jwk":"@JKT@"}'),
 raw_headers($t, header => '{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"oct","k":"c2VjcmV0"}}'),
 raw_headers($t, header => '{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"OKP","crv":"P-256","x":"AAAA"}}'),
 raw_headers($t, header => '{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"Ed25519","x":"AAAA","y":"AAAA"}}'),
 raw_headers($t, header => '{"typ":"dpop+jwt","alg":"ES256","jwk":' . $jwk . '}'),
 raw_headers($t, header => '{"typ":["dpop+jwt"],"alg":"ES256","jwk":@JWK@}'),
 raw_headers($t, header => '{"typ":"dpop+jwt ","alg":"ES256","jwk":@JWK@}')]
--- request eval
[("GET /t") x 14]
--- error_code eval
[(401) x 14]
--- response_body eval
[::body("invalid_dpop_proof", "malformed DPoP proof"),
 ::body("invalid_dpop_proof", "malformed DPoP proof"),
 ::body("invalid_dpop_proof", "DPoP proof algorithm not allowed"),
 ::body("invalid_dpop_proof", "DPoP proof algorithm not allowed"),
 ::body("invalid_dpop_proof", "malformed DPoP proof"),
 ::body("invalid_dpop_proof", "malformed DPoP proof"),
 ::body("invalid_dpop_proof", "DPoP proof without a jwk"),
 ::body("invalid_dpop_proof", "DPoP proof without a jwk"),
 ::body("invalid_dpop_proof", "DPoP proof jwk holds a private key"),
 ::body("invalid_dpop_proof", "invalid DPoP proof jwk"),
 ::body("invalid_dpop_proof", "invalid DPoP proof jwk"),
 ::body("invalid_dpop_proof", "invalid DPoP proof jwk"),
 ::body("invalid_dpop_proof", "malformed DPoP proof"),
 ::body("invalid_dpop_proof", "DPoP proof typ is not dpop+jwt")]



=== TEST 3: the proof's claims: duplicates, types, sizes
--- more_headers_late
my $t = bound_token();
my $p = sub { '{"jti":"@JTI@","htm":"GET","htu":"' . $::U . '","ath":"@ATH@",' . $_[0] . '}' };
my $q = sub { '{"htm":"GET","htu":"' . $::U . '","iat":@NOW@,"ath":"@ATH@",' . $_[0] . '}' };
[raw_headers($t, payload => $p->('"iat":@NOW@,"iat":1')),
 raw_headers($t, payload => '{"jti":"@JTI@","htm":"GET","htu":"http://evil/t","htu":"' . $::U . '","iat":@NOW@,"ath":"@ATH@"}'),
 raw_headers($t, payload => $p->('"iat":"@NOW@"')),
 raw_headers($t, payload => $p->('"iat":@NOW@.5')),
 raw_headers($t, payload => $p->('"iat":1e300')),
 raw_headers($t, payload => $p->('"iat":9223372036854775807')),
 raw_headers($t, payload => $p->('"iat":-9223372036854775808')),
 raw_headers($t, payload => $q->('"jti":""')),
 raw_headers($t, payload => $q->('"jti":"' . ('j' x 5000) . '"')),
 raw_headers($t, payload => $q->('"jti":1234')),
 raw_headers($t, payload => $q->('"jti":"a\u0000b"')),
 raw_headers($t, payload => '{"jti":"@JTI@","htm":"GET","htu":"' . $::U . '","iat":@NOW@,"ath":"@ATH@="}'),
 raw_headers($t, payload => '{"jti":"@JTI@","htm":"GET","htu":"' . $::U . '","iat":@NOW@}'),
 raw_headers($t, payload => '{"jti":"@JTI@","htm":"GET","htu":"' . $::U . '","iat":@NOW@,"ath":["@ATH@"]}')]
--- request eval
[("GET /t") x 14]
--- error_code eval
[(401) x 14]
--- response_body eval
[::body("invalid_dpop_proof", "malformed DPoP proof"),
 ::body("invalid_dpop_proof", "malformed DPoP proof"),
 ::body("invalid_dpop_proof", "DPoP proof iat missing or invalid"),
 ::body("invalid_dpop_proof", "DPoP proof iat missing or invalid"),
 ::body("invalid_dpop_proof", "DPoP proof iat missing or invalid"),
 ::body("invalid_dpop_proof", "DPoP proof iat outside the accepted window"),
 ::body("invalid_dpop_proof", "DPoP proof iat outside the accepted window"),
 ::body("invalid_dpop_proof", "DPoP proof jti missing or invalid"),
 ::body("invalid_dpop_proof", "DPoP proof jti missing or invalid"),
 ::body("invalid_dpop_proof", "DPoP proof jti missing or invalid"),
 ::body("invalid_dpop_proof", "malformed DPoP proof"),
 ::body("invalid_dpop_proof", "DPoP proof ath does not match the access token"),
 ::body("invalid_dpop_proof", "DPoP proof without ath"),
 ::body("invalid_dpop_proof", "DPoP proof ath invalid")]



=== TEST 4: ath in the base64 (not base64url) alphabet names no token
--- more_headers_late
my ($t, $std);
for my $i (1 .. 200) {
    $t = bound_token(jti => "ath-$i");
    $std = MIME::Base64::encode_base64(Digest::SHA::sha256($t), '');
    $std =~ s/=+\z//;
    last if $std =~ m{[+/]};
}
die "no hash with + or /\n" unless $std =~ m{[+/]};
[raw_headers($t, payload => '{"jti":"@JTI@","htm":"GET","htu":"' . $::U . '","iat":@NOW@,"ath":"' . $std . '"}')]
--- request eval
["GET /t"]
--- error_code eval
[401]
--- response_body eval
[::body("invalid_dpop_proof", "DPoP proof ath does not match the access token")]



=== TEST 5: htm and htu tricks
--- more_headers_late
my $t = bound_token();
[raw_headers($t, payload => '{"jti":"@JTI@","htm":"get","htu":"' . $::U . '","iat":@NOW@,"ath":"@ATH@"}'),
 raw_headers($t, htu => 'http://user@localhost/t'),
 raw_headers($t, htu => 'http://localhost:80@evil/t'),
 raw_headers($t, htu => 'http://localhost./t'),
 raw_headers($t, htu => 'http://localhost/./t'),
 raw_headers($t, htu => 'http://localhost/x/../t'),
 raw_headers($t, htu => 'http://localhost/T'),
 raw_headers($t, htu => 'http://localhost/t/'),
 raw_headers($t, htu => 'http://localhost/%2Ft'),
 raw_headers($t, htu => 'http://[::1]/t'),
 raw_headers($t, htu => 'https://localhost/t'),
 raw_headers($t, htu => 'http://localhost:8080/t'),
 raw_headers($t, htu => 'http://localhost:65617/t'),
 raw_headers($t, htu => 'http://localhost/t%'),
 raw_headers($t, htu => 'http://localhost/t\u0000'),
 raw_headers($t, htu => 'http://xn--lcalhost-r4a/t'),
 raw_headers($t, htu => 'http://localhost/' . ('t' x 3000)),
 raw_headers($t, htu => '//localhost/t'),
 raw_headers($t, htu => 'http:/localhost/t')]
--- request eval
[("GET /t") x 19]
--- error_code eval
[(401) x 19]
--- response_body eval
[::body("invalid_dpop_proof", "DPoP proof htm does not match the request"),
 (::body("invalid_dpop_proof", "DPoP proof htu does not match the request")) x 13,
 ::body("invalid_dpop_proof", "malformed DPoP proof"),
 (::body("invalid_dpop_proof", "DPoP proof htu does not match the request")) x 4]



=== TEST 6: equivalent spellings of the URL pass (RFC 3986 section 6.2.2)
--- more_headers_late
my $t = bound_token();
[raw_headers($t, htu => 'HTTP://LOCALHOST/t'),
 raw_headers($t, htu => 'http://localhost:80/t'),
 raw_headers($t, htu => 'http://localhost/%74')]
--- request eval
[("GET /t") x 3]
--- error_code eval
[(200) x 3]
--- response_body eval
[("binding=dpop\n") x 3]



=== TEST 7: the access token's cnf: duplicates, types, both bindings
--- more_headers_late
my $tok = sub { ::raw_proof(header => '{"alg":"ES256","kid":"ec1","typ":"JWT"}',
                            payload => '{"sub":"alice","exp":@EXP@,' . $_[0] . '}') };
my $jkt = '"jkt":"' . $::JKT . '"';
my $x5t = '"x5t#S256":"' . ('A' x 43) . '"';
[raw_headers($tok->('"cnf":{"jkt":"x"},"cnf":{' . $jkt . '}')),
 raw_headers($tok->('"cnf":{"jkt":"x",' . $jkt . '}')),
 raw_headers($tok->('"cnf":"' . $::JKT . '"')),
 raw_headers($tok->('"cnf":{"jkt":43}')),
 raw_headers($tok->('"cnf":{"jkt":""}')),
 raw_headers($tok->('"cnf":{}')),
 raw_headers($tok->('"cnf":{"JKT":"' . $::JKT . '"}')),
 raw_headers($tok->('"cnf":[{' . $jkt . '}]')),
 raw_headers($tok->('"cnf":{' . $jkt . ',' . $x5t . '}'))]
--- request eval
[("GET /t") x 9]
--- error_code eval
[(401) x 9]
--- response_body eval
[::body("invalid_token", "invalid JSON"),
 ::body("invalid_token", "invalid JSON"),
 ::body("invalid_token", "invalid cnf claim"),
 ::body("invalid_token", "invalid cnf claim"),
 ::body("invalid_token", "DPoP proof key does not match the token's cnf.jkt"),
 ::body("invalid_token", "token is not DPoP-bound"),
 ::body("invalid_token", "token is not DPoP-bound"),
 ::body("invalid_token", "invalid cnf claim"),
 ::body("invalid_token", "certificate-bound token without a client certificate")]



=== TEST 8: the Authorization header: scheme spellings, two credentials, Bearer with a proof
--- more_headers_late
my $t = bound_token();
my $u = bound_token(claims => {});
[raw_headers($t, scheme => 'dpop'),
 raw_headers($t, scheme => 'DPOP '),
 "Authorization: DPoP $t\nAuthorization: Bearer $t\nDPoP: " . raw_proof(token => $t),
 raw_headers($t, scheme => 'Bearer'),
 raw_headers($u, scheme => 'Bearer'),
 "Authorization: DPoP\t$t\nDPoP: " . raw_proof(token => $t),
 "Authorization: DPoP $t\nDPoP: " . raw_proof(token => $t) . ', ' . raw_proof(token => $t),
 "Authorization: DPoP $t\nDPoP: " . raw_proof(token => "$t ")]
--- request eval
[("GET /t") x 8]
--- error_code eval
[200, 200, 400, 401, 401, 401, 401, 401]
--- response_body_like eval
["^binding=dpop\n\\z", "^binding=dpop\n\\z",
 "400 Bad Request",
 map { "^\Q$_\E\\z" }
 ::body("unauthorized", "DPoP required"),
 ::body("unauthorized", "DPoP required"),
 ::body("unauthorized", "missing DPoP token"),
 ::body("invalid_dpop_proof", "malformed DPoP proof"),
 ::body("invalid_dpop_proof", "DPoP proof ath does not match the access token")]



=== TEST 9: a DPoP proof is not an access token (explicit typing, RFC 8725 section 3.11)
--- config
location = /plain {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
}
--- more_headers_late
my $pl = '{"jti":"@JTI@","htm":"GET","htu":"http://localhost/plain","iat":@NOW@,"sub":"alice","exp":@EXP@}';
["Authorization: Bearer " . raw_proof(payload => $pl, header => '{"typ":"dpop+jwt","alg":"ES256","kid":"ec1","jwk":@JWK@}'),
 "Authorization: Bearer " . raw_proof(payload => $pl, header => '{"typ":"DPoP+JWT","alg":"ES256","kid":"ec1"}'),
 "Authorization: Bearer " . raw_proof(payload => $pl, header => '{"typ":"application/DPoP+JWT","alg":"ES256","kid":"ec1"}')]
--- request eval
[("GET /plain") x 3]
--- error_code eval
[(401) x 3]
--- response_body eval
[(::body("invalid_token", "a DPoP proof is not an access token")) x 3]



=== TEST 10: a cached bound token with another client's proof
--- more_headers_late
my $t = bound_token();
[raw_headers($t),
 raw_headers($t, key => 'ed25519', sign_alg => 'EdDSA', header => '{"typ":"dpop+jwt","alg":"EdDSA","jwk":@JWK@}'),
 raw_headers($t)]
--- request eval
[("GET /t") x 3]
--- error_code eval
[200, 401, 200]
--- response_body eval
["binding=dpop\n",
 ::body("invalid_token", "DPoP proof key does not match the token's cnf.jkt"),
 "binding=dpop\n"]



=== TEST 11: weak or broken RSA proof keys
--- more_headers_late
my $jwks = JSON::PP->new->decode(do { local (@ARGV, $/) = (LLMGW::Test::llmgw_keys_dir() . '/jwks.json'); <> });
my ($rsa) = grep { $_->{kid} eq 'rsa1' } @{ $jwks->{keys} };
my $e1 = '{"kty":"RSA","n":"' . $rsa->{n} . '","e":"AQ"}';
my $e2 = '{"kty":"RSA","n":"' . $rsa->{n} . '","e":"Ag"}';
my $t = bound_token(claims => { cnf => { jkt => LLMGW::Test::llmgw_dpop_jkt('rsa1024') } });
[raw_headers($t, key => 'rsa1024', sign_alg => 'PS256', header => '{"typ":"dpop+jwt","alg":"PS256","jwk":@JWK@}'),
 raw_headers($t, key => 'rsa', sign_alg => 'PS256', header => '{"typ":"dpop+jwt","alg":"PS256","jwk":' . $e1 . '}'),
 raw_headers($t, key => 'rsa', sign_alg => 'PS256', header => '{"typ":"dpop+jwt","alg":"PS256","jwk":' . $e2 . '}'),
 raw_headers($t, key => 'rsa', sign_alg => 'RS256', header => '{"typ":"dpop+jwt","alg":"RS256","jwk":@JWK@}')]
--- request eval
[("GET /t") x 4]
--- error_code eval
[(401) x 4]
--- response_body eval
[(::body("invalid_dpop_proof", "invalid DPoP proof jwk")) x 3,
 ::body("invalid_dpop_proof", "DPoP proof algorithm not allowed")]



=== TEST 12: resource_metadata made of request text cannot break out of its quotes
--- config
location = /m {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_resource_metadata_url https://$http_x_meta/.well-known/oauth-protected-resource;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
}
--- more_headers_late
['X-Meta: gw", error="none\\', 'X-Meta: gw' . "\x01" . 'x']
--- request eval
["GET /m", "GET /m"]
--- error_code eval
[401, 401]
--- response_headers eval
['WWW-Authenticate: Bearer realm="llmgw", resource_metadata="https://gw\", error=\"none\\\\/.well-known/oauth-protected-resource"',
 'WWW-Authenticate: Bearer realm="llmgw", resource_metadata="https://gw?x/.well-known/oauth-protected-resource"']
--- response_body eval
[(::body("unauthorized", "missing bearer token")) x 2]



=== TEST 13: the token's client claim: arrays, numbers, objects name no client
--- http_config
    llmgw_scopes {
        all     text audio;
        text    claude openai.text;
        audio   openai.stt openai.tts;
    }
    llmgw_clients ../html/clients.csv unknown=claude;
--- user_files
>>> clients.csv
client_id,status,ceiling,pending_ceiling
web-chat,approved,text,
voice-app,approved,text audio,
123,approved,all,
>>> ok.txt
ok
--- config
location = /audio {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_require_scope openai.stt;
    alias html/ok.txt;
}
--- more_headers_late
my $tk = sub { "Authorization: Bearer " . llmgw_token(scope => 'all', claims => $_[0]) };
[$tk->({ client_id => ['voice-app'], azp => 'web-chat' }),
 $tk->({ client_id => { id => 'voice-app' }, azp => 'voice-app' }),
 $tk->({ client_id => 123 }),
 $tk->({ client_id => undef, azp => 'voice-app' }),
 $tk->({ client_id => '', azp => 'voice-app' }),
 $tk->({ client_id => 'Voice-App' }),
 $tk->({ client_id => "voice-app\x{2028}" })]
--- request eval
[("GET /audio") x 7]
--- error_code eval
[403, 403, 403, 200, 403, 403, 403]
--- response_body eval
[(::body("forbidden", "token's client claim is not a string")) x 3,
 "ok\n",
 (qq({"error":{"code":"insufficient_scope","message":"insufficient scope","scope":"openai.stt"}}\n)) x 3]



=== TEST 14: the admin API's client endpoints: path tricks, methods, bodies, tokens
--- http_config
    llmgw_state_zone state:1m;
    llmgw_scopes {
        all     text audio;
        text    claude openai.text;
        audio   openai.stt openai.tts;
        admin   llmgw.admin;
    }
    llmgw_clients ../html/clients.csv unknown=deny;
--- user_files
>>> clients.csv
client_id,status,ceiling,pending_ceiling
web-chat,approved,text,
--- config
location /admin/ {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    llmgw_client_ceiling off;
    llmgw_require_scope llmgw.admin;
    client_max_body_size 8k;
    llmgw_admin;
}
--- more_headers_late
my $a = "Authorization: Bearer " . llmgw_token(scope => 'llmgw.admin');
my $u = "Authorization: Bearer " . llmgw_token(scope => 'all');
[($a) x 15, $u, $u]
--- request eval
my $ok = '{"status":"approved","ceiling":["text"]}';
["PUT /admin/clients/a%2Fb\n$ok",
 "PUT /admin/clients/a%2Fapprove\n$ok",
 "PUT /admin/clients/x%0Ay\n$ok",
 "PUT /admin/clients/evil,approved,all,\n$ok",
 "PUT /admin/clients/" . ('c' x 3000) . "\n$ok",
 "PUT /admin/clients/caf%C3%A9\n$ok",
 "PUT /admin/clients/x\n" . '{"status":"pending","status":"approved","ceiling":["text"]}',
 "PUT /admin/clients/x\n" . '{"status":"approved","ceiling":["all"],"ceiling":["text"]}',
 "PUT /admin/clients/x\n" . '{"status":"approved","ceiling":["nosuch"]}',
 "PUT /admin/clients/x\n" . '{"status":"approved","ceiling":"all"}',
 "PUT /admin/clients/x\n" . ('[' x 3000) . (']' x 3000),
 "PUT /admin/clients/x\n" . '{"status":"approved","ceiling":["' . ('a' x 9000) . '"]}',
 "PATCH /admin/clients/web-chat\n$ok",
 "HEAD /admin/clients/web-chat",
 "GET /admin/clients/web-chat/../web-chat",
 "PUT /admin/clients/x\n$ok",
 "DELETE /admin/clients/web-chat"]
--- error_code eval
[404, 405, 400, 400, 400, 400, 400, 400, 400, 400, 400, 413, 405, 405, 200, 403, 403]
--- response_body_like eval
["no such admin endpoint", "method not allowed here",
 ("status or client_id has a space, a comma or a control character") x 2,
 "client_id: too long", "client_id: invalid character",
 ("the body must be a JSON object") x 2,
 "nosuch", "status must be a string, ceiling an array",
 "the body must be a JSON object", "the request body is too large",
 "method not allowed", "^\\z", '"client_id":"web-chat"',
 ("insufficient_scope") x 2]



=== TEST 15: cnf.x5t#S256 spellings: padded, base64 alphabet, wrong length, not a string
--- config
location = /plain {
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
}
--- more_headers_late
my $tk = sub { "Authorization: Bearer " . llmgw_token(claims => { cnf => $_[0] }) };
[$tk->({ 'x5t#S256' => ('A' x 43) . '=' }),
 $tk->({ 'x5t#S256' => ('A' x 42) . '+' }),
 $tk->({ 'x5t#S256' => ('A' x 42) }),
 $tk->({ 'x5t#S256' => [('A' x 43)] }),
 $tk->({ 'x5t#S256' => ('A' x 43) }),
 $tk->({ 'X5T#S256' => ('A' x 43) })]
--- request eval
[("GET /plain") x 6]
--- error_code eval
[401, 401, 401, 401, 401, 200]
--- response_body eval
[(::body("invalid_token", "malformed certificate binding (cnf)")) x 4,
 ::body("invalid_token", "certificate-bound token without a client certificate"),
 "binding=\n"]
