# Configuration checks that must stop nginx -t with a clear message, and a
# reload (HUP) that picks up new keys.  Plain Test::More: one nginx -t per
# case is quicker than a must_die block each, and Test::Nginx cannot send
# a HUP between two requests of a block.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use HTTP::Tiny;
use File::Copy qw(copy);
use LLMGW::Test;
use LLMGW::Nginx;

my $modules = $ENV{TEST_NGINX_LOAD_MODULES}
    or plan skip_all => 'TEST_NGINX_LOAD_MODULES is not set';
my $keys = llmgw_keys_dir();
my $dir = nginx_prefix();

sub check {
    my ($http) = @_;

    nginx_conf($dir, $http);

    return nginx_check($dir);
}

sub refused {
    my ($http, $pattern, $what) = @_;
    my ($ok, $out) = check($http);

    ok(!$ok, "$what: refused");
    like($out, $pattern, "$what: says why") or diag($out);
}

my $bare = sub {
    my ($inside) = @_;
    return "server { listen 127.0.0.1:1; location / { $inside } }";
};

# the checks below are not about iss and aud: any of each, said explicitly
my $loc = sub {
    my ($inside) = @_;
    return $bare->("llmgw_jwt_issuer any; llmgw_jwt_audience any; $inside");
};

my ($ok, $out) = check($loc->("llmgw_auth jwt; "
                              . "llmgw_jwt_keys $keys/jwks.json;"));
ok($ok, 'a location with JWT auth and a JWKS file is accepted') or diag $out;

refused($loc->("llmgw_auth jwt;"),
        qr/"llmgw_auth jwt" needs keys/, 'JWT auth without any key source');

refused($loc->("llmgw_auth jwt; llmgw_jwt_keys $dir/missing.json;"),
        qr/missing\.json/, 'a key file that does not exist');

open my $g, '>', "$dir/garbage.pem" or die $!;
print $g "-----BEGIN PUBLIC KEY-----\nnot base64 at all\n"
         . "-----END PUBLIC KEY-----\n";
close $g;

refused($loc->("llmgw_auth jwt; llmgw_jwt_keys $dir/garbage.pem;"),
        qr/garbage\.pem/, 'a PEM file that is not a key');

open $g, '>', "$dir/broken.json" or die $!;
print $g '{"keys":[{"kty":"RSA","n":"AQAB"';
close $g;

refused($loc->("llmgw_auth jwt; llmgw_jwt_keys $dir/broken.json;"),
        qr/broken\.json/, 'a JWKS file with broken JSON');

refused($loc->("llmgw_auth jwt; llmgw_jwt_keys $keys/rsa.key;"),
        qr/private key/, 'a private key where a public one belongs');

refused($loc->("llmgw_auth jwt; llmgw_jwt_keys $keys/jwks-rsa1024.json;"),
        qr/jwks-rsa1024\.json/, 'a JWKS with only a 1024-bit RSA key');

refused($loc->("llmgw_auth jwt; llmgw_jwt_keys $keys/jwks.json; "
               . "llmgw_jwt_algorithms RS256 HS256;"),
        qr/unsupported JWS algorithm "HS256"/, 'HS256 in the algorithms');

refused($loc->("llmgw_auth jwt; llmgw_jwt_keys $keys/jwks.json; "
               . "llmgw_jwt_algorithms none;"),
        qr/unsupported JWS algorithm "none"/, 'none in the algorithms');

refused($loc->("llmgw_auth jwt; llmgw_jwt_keys $keys/jwks.json; "
               . "llmgw_jwt_max_size 1m;"),
        qr/llmgw_jwt_max_size/, 'a token size limit above the ceiling');

refused($loc->("llmgw_auth jwt; llmgw_jwt_keys $keys/jwks.json; "
               . "llmgw_realm 'a\"b';"),
        qr/llmgw_realm/, 'a realm with a quote');

refused("llmgw_scopes { all text; text claude; }\n"
        . $loc->("llmgw_auth jwt; llmgw_jwt_keys $keys/jwks.json; "
                 . "llmgw_require_scope cluade;"),
        qr/scope "cluade" is not in "llmgw_scopes"/,
        'a required scope the tree does not know');

refused("llmgw_scopes { all text; text claude; claude all; }",
        qr/its own ancestor/, 'a cycle in the scope tree');

refused("llmgw_scopes { all text; }\nllmgw_scopes { all audio; }",
        qr/is duplicate/, 'two scope trees');

refused($loc->("llmgw_auth jwt; llmgw_jwt_keys $keys/jwks.json; "
               . "llmgw_token_header api-key; llmgw_token_header x;"),
        qr/is duplicate/, 'llmgw_token_header twice');

refused($loc->("llmgw_auth jwt; llmgw_jwt_keys $keys/jwks.json; "
               . "llmgw_token_header 'api key';"),
        qr/invalid header name/, 'a header name with a space');

refused($loc->("llmgw_auth basic;"),
        qr/invalid value "basic"/, 'an unknown auth mode');

# certificate-bound tokens and the FAPI mode (t/mtls.t, t/fapi.t)

refused($loc->("llmgw_auth jwt; llmgw_jwt_keys $keys/jwks.json; "
               . "llmgw_jwt_algorithms RS256 ES384; llmgw_fapi on;"),
        qr/"llmgw_fapi on" allows PS256, ES256 and EdDSA only/,
        'llmgw_fapi with none of its algorithms');

($ok, $out) = check($loc->("llmgw_auth jwt; llmgw_jwt_keys $keys/jwks.json; "
                           . "llmgw_jwt_algorithms RS256 PS256; "
                           . "llmgw_fapi on; llmgw_cert_binding required; "
                           . "llmgw_client_cert_proxy 10.0.0.0/8 ::1 "
                           . "192.0.2.7;"));
ok($ok, 'llmgw_fapi with PS256 among its algorithms, proxies by address')
    or diag $out;

refused($loc->("llmgw_auth jwt; llmgw_jwt_keys $keys/jwks.json; "
               . "llmgw_cert_binding always;"),
        qr/invalid value "always"/, 'an unknown llmgw_cert_binding mode');

refused($loc->("llmgw_auth jwt; llmgw_jwt_keys $keys/jwks.json; "
               . "llmgw_client_cert_proxy 10.0.0.0/33;"),
        qr{invalid address or network "10\.0\.0\.0/33"},
        'a network llmgw_client_cert_proxy cannot read');

refused($loc->("llmgw_auth jwt; llmgw_jwt_keys $keys/jwks.json; "
               . "llmgw_client_cert_proxy 10.0.0.1; "
               . "llmgw_client_cert_proxy 10.0.0.2;"),
        qr/is duplicate/, 'llmgw_client_cert_proxy twice');

# issuer and audience are required (RFC 9068 section 4, RFC 8725 3.8-3.9)

my $jwt = "llmgw_auth jwt; llmgw_jwt_keys $keys/jwks.json;";

refused($bare->("$jwt llmgw_jwt_audience llmgw;"),
        qr/"llmgw_auth jwt" needs "llmgw_jwt_issuer"/,
        'JWT auth without an issuer');

refused($bare->("$jwt llmgw_jwt_issuer https://idp.example.com/;"),
        qr/"llmgw_auth jwt" needs "llmgw_jwt_audience"/,
        'JWT auth without an audience');

refused("llmgw_jwt_audience llmgw;\n"
        . "server { listen 127.0.0.1:1; location / { $jwt\n"
        . "  location /in { llmgw_jwt_audience any; } } }",
        qr/"llmgw_auth jwt" needs "llmgw_jwt_issuer"/,
        'an inner location without an issuer, outer ones neither');

($ok, $out) = check($bare->("$jwt llmgw_jwt_issuer https://idp.example.com/;"
                            . " llmgw_jwt_audience llmgw;"));
ok($ok, 'JWT auth with an issuer and an audience') or diag $out;

($ok, $out) = check("llmgw_jwt_issuer any; llmgw_jwt_audience any;\n"
                    . $bare->($jwt));
ok($ok, 'any issuer and any audience, said at http level') or diag $out;

refused($bare->("$jwt llmgw_jwt_issuer any https://idp.example.com/;"
                . " llmgw_jwt_audience any;"),
        qr/"llmgw_jwt_issuer" directive takes "any" alone/, 'any with an issuer');

refused($bare->("$jwt llmgw_jwt_issuer any; llmgw_jwt_audience any;"
                . " llmgw_jwt_audience a;"),
        qr/"llmgw_jwt_audience" directive cannot add values to "any"/,
        'an audience after any');

refused($bare->("$jwt llmgw_jwt_issuer any; llmgw_jwt_issuer any;"
                . " llmgw_jwt_audience any;"),
        qr/"llmgw_jwt_issuer" directive is duplicate/, 'any twice');

# claim paths

($ok, $out) = check($loc->("$jwt llmgw_scope_claim realm_access.roles "
                           . "'resource_access.\"llm.gateway\".roles'; "
                           . "llmgw_jwt_claim typ Bearer; "
                           . "llmgw_jwt_require_claim "
                           . "'\"https://gw.example.com/dept\"';"));
ok($ok, 'nested and quoted claim paths') or diag $out;

refused($loc->("$jwt llmgw_scope_claim realm_access..roles;"),
        qr/invalid claim path "realm_access\.\.roles": it has an empty name/,
        'a scope claim path with an empty name');

refused($loc->("$jwt llmgw_jwt_claim 'a.\"b' x;"),
        qr/invalid claim path "a\."b": it has an unterminated quote/,
        'a claim check path with an open quote');

refused($loc->("$jwt llmgw_jwt_require_claim a.;"),
        qr/invalid claim path "a\.": it ends with a dot/,
        'a required claim path ending with a dot');

refused($loc->("$jwt llmgw_jwt_audience_claim 'a\"b';"),
        qr/invalid claim path "a"b": it has a quote/,
        'an audience claim path with a quote inside a name');

refused($loc->("$jwt llmgw_jwt_claim token_use;"),
        qr/invalid number of arguments in "llmgw_jwt_claim"/,
        'a claim check without a value');

refused($loc->("$jwt llmgw_scope_claim prefix=https://api.example.com/;"),
        qr/"llmgw_scope_claim" directive names no claim/, 'a prefix without a claim');

refused("llmgw_claim_variable \$dept a.b.c.d.e.f.g.h.i;",
        qr/it names more than 8 levels/, 'a claim variable nine deep');

refused("llmgw_claim_variable dept dept;",
        qr/invalid variable name "dept"/, 'a claim variable without \$');

# llmgw_audit_body, llmgw_audit_redact

($ok, $out) = check($bare->("llmgw_audit_body both max=1m; "
                            . "llmgw_audit_redact messages prompt;"));
ok($ok, 'llmgw_audit_body both max=1m with llmgw_audit_redact: accepted')
    or diag $out;

refused($bare->("llmgw_audit_body all;"),
        qr/invalid value "all", it must be "off", "request", "response" or "both"/,
        'llmgw_audit_body all');

refused($bare->("llmgw_audit_body request max=2m;"),
        qr/invalid max size "2m", it must be from 1 to 1048576/,
        'llmgw_audit_body max above 1m');

refused($bare->("llmgw_audit_body off max=1k;"),
        qr/invalid parameter "max=1k"/, 'llmgw_audit_body off with max=');

refused($bare->("llmgw_audit_body request; llmgw_audit_body response;"),
        qr/"llmgw_audit_body" directive is duplicate/,
        'llmgw_audit_body twice');

refused($bare->("llmgw_audit_redact messages " . ('x' x 65) . ";"),
        qr/invalid member name "x{65}", it must be 1 to 64 bytes/,
        'llmgw_audit_redact: a name too long');

# reload: a key file replaced on disk is used after HUP, not before

my $port = free_port();
copy("$keys/rsa.pub", "$dir/current.pub") or die $!;

nginx_conf($dir, "server { listen 127.0.0.1:$port;\n"
                 . "  location = /t { llmgw_auth jwt;\n"
                 . "    llmgw_jwt_issuer any; llmgw_jwt_audience any;\n"
                 . "    llmgw_jwt_keys $dir/current.pub kid=k;\n"
                 . "    alias $dir/html/ok.txt; } }");

open my $okf, '>', "$dir/html/ok.txt" or die $!;
print $okf "ok\n";
close $okf;

my $pid = nginx_start($dir, $port) or BAIL_OUT('nginx did not start');

my $http = HTTP::Tiny->new(timeout => 5);
my $old = llmgw_token(key => 'rsa', kid => 'k');
my $new = llmgw_token(key => 'rsa2', kid => 'k');

is(get($http, $port, $old), 200, 'before reload: the old key verifies');
is(get($http, $port, $new), 401, 'before reload: the new key does not');

copy("$keys/rsa2.pub", "$dir/current.pub") or die $!;
kill 'HUP', $pid;

my $status = 0;

for (1 .. 50) {
    $status = get($http, $port, $new);
    last if $status == 200;
    select(undef, undef, undef, 0.1);
}

is($status, 200, 'after reload: the new key verifies');
is(get($http, $port, $old), 401, 'after reload: the old key no longer does');

# reload: zones of two kinds swap names at the same size.  nginx hands a
# zone over only under the same tag: each kind starts afresh, none
# inherits the other's layout (a token cache read as the account state).

sub zones {
    my ($cache, $state) = @_;

    nginx_conf($dir, "llmgw_token_cache_zone $cache:1m;\n"
                     . "llmgw_state_zone $state:1m;\n"
                     . "llmgw_state_file $dir/state.jsonl;\n"
                     . "server { listen 127.0.0.1:$port;\n"
                     . "  location = /t { llmgw_auth jwt;\n"
                     . "    llmgw_jwt_issuer any; llmgw_jwt_audience any;\n"
                     . "    llmgw_jwt_keys $dir/current.pub kid=k;\n"
                     . "    alias $dir/html/ok.txt; } }");
}

zones('one', 'two');
reload($pid);

is(get($http, $port, $new), 200, 'zones one and two: a token verifies');
is(get($http, $port, $new), 200, 'zones one and two: the cached token');

zones('two', 'one');
reload($pid);

for my $i (1 .. 3) {
    is(get($http, $port, $new), 200,
       "zones swapped: a token verifies ($i)");
}

ok(kill(0, $pid), 'zones swapped: the master is alive');
is(slurp("$dir/state.jsonl"), qq({"llmgw_state":1}\n),
   'zones swapped: the state zone written back is empty, not the cache');
unlike(slurp("$dir/logs/error.log"),
       qr/\[(?:alert|crit|emerg)\]|exited on signal/,
       'zones swapped: no alert, crit or emerg, no worker died');

nginx_stop($pid);

done_testing();


# HUP, then wait until a new worker started after it (the error log from
# where it was); the old workers go after that
sub reload {
    my ($pid) = @_;
    my $from = length slurp("$dir/logs/error.log");

    kill 'HUP', $pid;

    for (1 .. 50) {
        last if substr(slurp("$dir/logs/error.log"), $from)
                =~ /start worker process/;
        select(undef, undef, undef, 0.1);
    }

    select(undef, undef, undef, 0.5);
}

sub slurp {
    my ($name) = @_;

    open my $f, '<', $name or return '';
    local $/;
    return <$f>;
}

sub get {
    my ($http, $port, $token) = @_;
    my $res = $http->get("http://127.0.0.1:$port/t",
                         { headers => { Authorization => "Bearer $token" } });
    return $res->{status};
}
