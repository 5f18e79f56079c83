# Sender-constrained tokens over HTTP/2 (issue 12 sections 2 and 3): the
# client certificate and the DPoP proof are checked per stream, while an
# HTTP/2 connection carries many requests, each stream a fake connection
# of nginx's over the one TLS connection.  curl speaks HTTP/2 over TLS
# (ALPN h2) with alice's, bob's or no certificate (t/lib/LLMGW/Certs.pm)
# and sends several requests on one connection (t/lib/LLMGW/Curl.pm);
# every response says which protocol and which connection carried it.
#
#   - a certificate-bound token on its certificate's connection, several
#     streams: MISS then HIT, each checked; a token bound to bob's
#     certificate among them refused while the others pass; the cached
#     token on bob's connection refused;
#   - no certificate: a bound token refused; required: a bearer refused;
#   - DPoP: htu is https + :authority + :path; a proof naming another
#     authority refused; one proof on two streams of one connection, one
#     after the other and at once: exactly one passes;
#   - llmgw_pass to the mock (HTTP/1.1 upstream): SSE streams arrive whole
#     on two streams at once; DPoP and Authorization never reach the mock;
#     a cut stream is reset alone; events arrive as the mock sends them;
#   - no SNI: the default server's handshake asks for no certificate, a
#     bound token is refused on the gateway's server all the same.
#
# Plain Test::More: Test::Nginx 0.32 writes "http2 on;", which nginx 1.22
# does not know; this suite runs the same under both runners.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use File::Temp ();
use HTTP::Tiny;
use JSON::PP;
use LLMGW::Test qw(:all);
use LLMGW::Nginx;
use LLMGW::Certs;
use LLMGW::Curl;

for my $v (qw(TEST_NGINX_LOAD_MODULES TEST_NGINX_MOCK_PORT
              TEST_NGINX_MOCK_SECRETS))
{
    plan skip_all => "$v is not set (t/run-tests.sh sets it)"
        unless $ENV{$v};
}

plan skip_all => 'curl without HTTP/2'
    unless `curl --version 2>/dev/null` =~ /^Features:.*\bHTTP2\b/m;

my $C = llmgw_certs();
my $certs = $C->{dir};
my $keys = llmgw_keys_dir();
my $secrets = $ENV{TEST_NGINX_MOCK_SECRETS};
my $mock = "127.0.0.1:$ENV{TEST_NGINX_MOCK_PORT}";
my $dir = nginx_prefix();
my $port = free_port();
my $echo = free_port();
my $origin = "https://localhost:$port";

# the nonce secret; nonces of a slot that lasts for years (as t/dpop.t)
my $SecretFile = File::Temp->new(TMPDIR => 1);
print $SecretFile "dpop nonce secret of t/h2-binding.t\n";
close $SecretFile;
my $secret = $SecretFile->filename;
my $NONCE = llmgw_dpop_nonce($secret, 1000000000);

my $Echo = <<"_EOC_";
            proxy_set_header X-Sub \$llmgw_sub;
            proxy_set_header X-Binding \$llmgw_token_binding;
            proxy_pass http://127.0.0.1:$echo/echo;
            add_header X-Cache \$llmgw_token_cache always;
            add_header X-Conn \$connection always;
            add_header X-Proto \$server_protocol always;
_EOC_

nginx_conf($dir, <<"_EOC_");
    llmgw_token_cache_zone llmgw_tokens:1m;
    llmgw_dpop_zone llmgw_dpop:1m;
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;
    llmgw_jwt_keys $keys/jwks.json;
    llmgw_dpop_nonce_secret file=$secret;

    # the default server asks for no certificate: a client without SNI
    # gets its handshake, then names the server below by :authority
    server {
        listen 127.0.0.1:$port ssl http2 default_server;
        server_name default.test;
        ssl_certificate $certs/server.crt;
        ssl_certificate_key $certs/server.key;
    }

    server {
        listen 127.0.0.1:$port ssl http2;
        server_name localhost;
        ssl_certificate $certs/server.crt;
        ssl_certificate_key $certs/server.key;
        ssl_verify_client optional_no_ca;

        location /optional {
            llmgw_auth jwt;
$Echo
        }

        location /required {
            llmgw_auth jwt;
            llmgw_cert_binding required;
$Echo
        }

        location /dpop {
            llmgw_auth jwt;
            llmgw_dpop required;
$Echo
        }

        location /nonce {
            llmgw_auth jwt;
            llmgw_dpop required;
            llmgw_dpop_nonce 1000000000s;
$Echo
        }

        location /azure/ {
            llmgw_auth jwt;
            llmgw_dpop optional;
            llmgw_provider azure_openai;
            llmgw_pass_strip_prefix /azure;
            llmgw_pass http://$mock;
            llmgw_pass_api_key file=$secrets/azure.key;
            add_header X-Conn \$connection always;
            add_header X-Proto \$server_protocol always;
        }
    }

    server {
        listen 127.0.0.1:$echo;

        location = /echo {
            return 200 "sub=\$http_x_sub binding=\$http_x_binding\\n";
        }
    }
_EOC_

my $pid = nginx_start($dir, $port) or BAIL_OUT('nginx did not start');

# nginx goes with the test, however it ends: one left running would keep
# prove's pipe open
END { local $?; nginx_stop($pid) if $pid }

my $http = HTTP::Tiny->new(timeout => 10);
my $json = JSON::PP->new->utf8;


sub bound {
    my ($sub, $who, %o) = @_;

    return llmgw_token(key => 'ec256', sub => $sub,
                       claims => { cnf => { 'x5t#S256' => $C->{$who}{x5t} } },
                       %o);
}

my $ALICE = bound('alice', 'alice', jti => 'h2-alice');
my $TO_BOB = bound('alice', 'bob', jti => 'h2-bob');
my $BEARER = llmgw_token(key => 'ec256', sub => 'carol');
my $JKT = llmgw_dpop_jkt('ec256');
my $DPOP = llmgw_token(key => 'ec256', sub => 'dave', scope => 'text',
                       claims => { cnf => { jkt => $JKT } });

my $CERT_MISMATCH = 'client certificate does not match the token';
my $NO_CERT = 'certificate-bound token without a client certificate';


sub bearer_challenge {
    my ($text) = @_;

    return qq{Bearer realm="llmgw", error="invalid_token", }
           . qq{error_description="$text"};
}


sub dpop_challenge {
    my ($text) = @_;

    return qq{DPoP realm="llmgw", error="invalid_dpop_proof", }
           . qq{error_description="$text", algs="PS256 ES256 EdDSA"};
}


sub error_body {
    my ($code, $text) = @_;

    return qq({"error":{"code":"$code","message":"$text"}}\n);
}


# the transfers of one curl run over HTTP/2 (ALPN h2 on TLS), each
# { path, cert => 'alice' | 'bob' | undef, headers => [...], ... };
# first curl_run's options ({ parallel => 1, allow_fail => 1 }), or
# whether the streams go at once
sub h2 {
    my ($o, @t) = @_;

    $o = { parallel => $o } unless ref $o;

    return curl_run(
        %$o,
        common => ['--http2', '--cacert', "$certs/ca.crt",
                   '--resolve', "localhost:$port:127.0.0.1"],
        transfers => [ map {
            { %$_, url => "$origin$_->{path}",
              cert => $_->{cert} ? "$certs/$_->{cert}" : undef }
        } @t ]);
}


# every response came over HTTP/2 on one and the same connection
sub one_h2_connection {
    my ($name, @r) = @_;

    is_deeply([map { $_->{version} } @r], [('2') x @r],
              "$name: curl used HTTP/2");
    is_deeply([map { $_->{h}{'x-proto'} } @r], [('HTTP/2.0') x @r],
              "$name: nginx saw HTTP/2");
    is(scalar(grep { $_->{h}{'x-conn'} eq $r[0]{h}{'x-conn'} } @r),
       scalar @r, "$name: one connection (nginx's \$connection)");

    my $connects = 0;
    $connects += $_->{connects} for @r;
    is($connects, 1, "$name: curl connected once");
}


sub codes {
    return [map { $_->{code} } @_];
}


sub auth {
    my ($scheme, $token, @more) = @_;

    return { headers => ["Authorization: $scheme $token", @more] };
}


# 1. certificate-bound tokens: one connection, streams one after another

my @r = h2(0,
    { path => '/optional', cert => 'alice', %{ auth(Bearer => $ALICE) } },
    { path => '/optional', cert => 'alice', %{ auth(Bearer => $ALICE) } },
    { path => '/optional', cert => 'alice', %{ auth(Bearer => $TO_BOB) } },
    { path => '/required', cert => 'alice', %{ auth(Bearer => $ALICE) } },
    { path => '/optional', cert => 'alice', %{ auth(Bearer => $ALICE) } });

one_h2_connection('bound, sequential', @r);
is_deeply(codes(@r), [200, 200, 401, 200, 200], 'bound, sequential: codes');
is_deeply([map { $_->{h}{'x-cache'} } @r[0, 1, 3, 4]],
          ['MISS', 'HIT', 'HIT', 'HIT'],
          'bound, sequential: the token verified once, then from the cache');
is_deeply([map { $_->{body} } @r[0, 1, 3, 4]],
          [("sub=alice binding=x5t#S256\n") x 4],
          'bound, sequential: each stream passed bound to the certificate');
is($r[2]{h}{'www-authenticate'}, bearer_challenge($CERT_MISMATCH),
   "bob's token on alice's connection: the challenge");
is($r[2]{body}, error_body('invalid_token', $CERT_MISMATCH),
   "bob's token on alice's connection: the body");

# 2. the same, the streams at once: the refused one among them alone

@r = h2(1, map { { path => '/optional', cert => 'alice', %$_ } }
           auth(Bearer => $ALICE), auth(Bearer => $TO_BOB),
           auth(Bearer => $ALICE), auth(Bearer => $TO_BOB),
           auth(Bearer => $ALICE));

one_h2_connection('bound, parallel', @r);
is_deeply(codes(@r), [200, 401, 200, 401, 200], 'bound, parallel: codes');
is_deeply([map { $_->{body} } @r[0, 2, 4]],
          [("sub=alice binding=x5t#S256\n") x 3],
          'bound, parallel: alice passed on every one of her streams');
is_deeply([map { $_->{h}{'www-authenticate'} } @r[1, 3]],
          [(bearer_challenge($CERT_MISMATCH)) x 2],
          "bound, parallel: bob's token refused on each of its streams");

# 3. the cached token on bob's connection, then on one without a
# certificate: the cache never stands for the certificate

@r = h2(0, map { { path => '/optional', cert => 'bob', %$_ } }
           auth(Bearer => $ALICE), auth(Bearer => $TO_BOB),
           auth(Bearer => $ALICE));

one_h2_connection("bob's connection", @r);
is_deeply(codes(@r), [401, 200, 401], "bob's connection: codes");
is_deeply([map { $_->{h}{'x-cache'} } @r], ['HIT', 'HIT', 'HIT'],
          "bob's connection: every token from the cache");
is_deeply([map { $_->{h}{'www-authenticate'} } @r[0, 2]],
          [(bearer_challenge($CERT_MISMATCH)) x 2],
          "bob's connection: alice's token refused, the challenge");
is($r[1]{body}, "sub=alice binding=x5t#S256\n",
   "bob's connection: the token bound to bob passes");

@r = h2(0, { path => '/optional', %{ auth(Bearer => $ALICE) } },
           { path => '/optional', %{ auth(Bearer => $BEARER) } },
           { path => '/required', %{ auth(Bearer => $BEARER) } },
           { path => '/required', cert => undef, %{ auth(Bearer => $ALICE) } });

one_h2_connection('no certificate', @r);
is_deeply(codes(@r), [401, 200, 401, 401], 'no certificate: codes');
is($r[0]{h}{'www-authenticate'}, bearer_challenge($NO_CERT),
   'no certificate: the bound token refused, the challenge');
is($r[0]{body}, error_body('invalid_token', $NO_CERT),
   'no certificate: the bound token refused, the body');
is($r[1]{body}, "sub=carol binding=\n",
   'no certificate: optional, a bearer token passes');
is($r[2]{h}{'www-authenticate'},
   bearer_challenge('certificate-bound token required'),
   'no certificate: required, a bearer token refused');
is($r[3]{h}{'www-authenticate'}, bearer_challenge($NO_CERT),
   'no certificate: required, the bound token refused');

@r = h2(0, { path => '/required', cert => 'alice',
             %{ auth(Bearer => $BEARER) } });

is($r[0]{code}, 401, 'required: a bearer token with a certificate: 401');
is($r[0]{h}{'www-authenticate'},
   bearer_challenge('certificate-bound token required'),
   'required: a bearer token with a certificate: the challenge');

# without SNI, the handshake is the default server's, which asks for no
# certificate: alice's is never sent, her token is refused on the
# gateway's server all the same (nginx answers 421 only where SNI named
# another server)

@r = curl_run(common => ['--http2', '-k', '-H', "Host: localhost:$port"],
              transfers => [map { { url => "https://127.0.0.1:$port$_->[0]",
                                    cert => "$certs/alice", %{ $_->[1] } } }
                            ['/optional', auth(Bearer => $ALICE)],
                            ['/optional', auth(Bearer => $BEARER)]]);

one_h2_connection('no SNI', @r);
is_deeply(codes(@r), [401, 200], 'no SNI: codes');
is($r[0]{h}{'www-authenticate'}, bearer_challenge($NO_CERT),
   'no SNI: the bound token refused, no certificate on the connection');
is($r[1]{body}, "sub=carol binding=\n",
   "no SNI: the gateway's server answered the bearer token");

# 4. DPoP: htu from :scheme, :authority and :path

sub proof {
    my (%o) = @_;

    return "DPoP: " . llmgw_dpop(htu => "$origin/dpop", token => $DPOP, %o);
}

my $REPLAYED = proof();

@r = h2(0, map { { path => '/dpop', %$_ } }
           auth(DPoP => $DPOP, proof()),
           auth(DPoP => $DPOP, proof()),
           auth(DPoP => $DPOP, proof(htu => "https://127.0.0.1:$port/dpop")),
           auth(DPoP => $DPOP, proof(htu => "https://localhost:1/dpop")),
           auth(DPoP => $DPOP, proof(htu => "http://localhost:$port/dpop")),
           auth(DPoP => $DPOP, $REPLAYED),
           auth(DPoP => $DPOP, $REPLAYED),
           auth(DPoP => $DPOP, proof(htu => "$origin/dpop/other")));

one_h2_connection('DPoP', @r);
is_deeply(codes(@r), [200, 200, 401, 401, 401, 200, 401, 401],
          'DPoP: codes');
is_deeply([map { $_->{body} } @r[0, 1, 5]],
          [("sub=dave binding=dpop\n") x 3], 'DPoP: the valid proofs pass');
is_deeply([map { $_->{h}{'x-cache'} } @r[0, 1, 5]], ['MISS', 'HIT', 'HIT'],
          'DPoP: the token from the cache, each stream its own proof');
is_deeply([map { $_->{h}{'www-authenticate'} } @r[2, 3, 4, 7]],
          [(dpop_challenge('DPoP proof htu does not match the request')) x 4],
          'DPoP: another authority, port, scheme or path refused');
is($r[6]{h}{'www-authenticate'}, dpop_challenge('DPoP proof replayed'),
   'DPoP: a proof replayed on a later stream refused');
is($r[6]{body}, error_body('invalid_dpop_proof', 'DPoP proof replayed'),
   'DPoP: the replay, the body');

# one proof on four streams at once: one passes, whichever it is

$REPLAYED = proof();

@r = h2(1, map { { path => '/dpop', %{ auth(DPoP => $DPOP, $REPLAYED) } } }
           1 .. 4);

one_h2_connection('DPoP replay, parallel', @r);
is_deeply([sort @{ codes(@r) }], [200, 401, 401, 401],
          'DPoP replay, parallel: exactly one stream passes');
is_deeply([sort map { $_->{h}{'www-authenticate'} // '' } @r],
          ['', (dpop_challenge('DPoP proof replayed')) x 3],
          'DPoP replay, parallel: the others are replays');

# DPoP-Nonce: asked for on one stream, the next stream's proof has it

@r = h2(0, { path => '/nonce', %{ auth(DPoP => $DPOP,
                                       proof(htu => "$origin/nonce")) } },
           { path => '/nonce', %{ auth(DPoP => $DPOP,
                                       proof(htu => "$origin/nonce",
                                             nonce => $NONCE)) } });

one_h2_connection('DPoP nonce', @r);
is_deeply(codes(@r), [401, 200], 'DPoP nonce: codes');
is($r[0]{h}{'www-authenticate'},
   'DPoP realm="llmgw", error="use_dpop_nonce", '
   . 'error_description="DPoP nonce required", algs="PS256 ES256 EdDSA"',
   'DPoP nonce: asked for, the challenge');
is($r[0]{h}{'dpop-nonce'}, $NONCE, 'DPoP nonce: the nonce given');
is($r[1]{body}, "sub=dave binding=dpop\n", 'DPoP nonce: with it, 200');

# 5. llmgw_pass: SSE over HTTP/2 from an HTTP/1.1 provider

my $PATH = '/azure/openai/deployments/gpt-4o/chat/completions';
my $QUERY = '?api-version=2024-10-21';
my $CHAT = '{"stream":true,"messages":[{"role":"user","content":"hi"}]}';


sub chat {
    my ($id, @h) = @_;

    return { path => "$PATH$QUERY", method => 'POST', data => $CHAT,
             headers => ['Content-Type: application/json',
                         "X-Llmgw-Test-Id: $id", @h] };
}


# the mock's record of the request with X-Llmgw-Test-Id: $id
sub record {
    my ($id) = @_;
    my $res = $http->get("http://$mock/__mock/requests");

    for my $rec (@{ $json->decode($res->{content}) }) {
        for my $h (@{ $rec->{headers} }) {
            return $rec if lc $h->[0] eq 'x-llmgw-test-id' && $h->[1] eq $id;
        }
    }

    return undef;
}


sub post_proof {
    return "DPoP: " . llmgw_dpop(htm => 'POST', htu => "$origin$PATH",
                                 token => $DPOP);
}

my $CHAT_BEARER = llmgw_token(key => 'ec256', sub => 'erin', scope => 'text');

@r = h2(1, chat('h2-dpop-1', "Authorization: DPoP $DPOP", post_proof()),
           chat('h2-dpop-2', "Authorization: DPoP $DPOP", post_proof()),
           chat('h2-bearer', "Authorization: Bearer $CHAT_BEARER"));

one_h2_connection('SSE', @r);
is_deeply(codes(@r), [200, 200, 200], 'SSE: codes');
is_deeply([map { $_->{h}{'content-type'} } @r],
          [('text/event-stream; charset=utf-8') x 3], 'SSE: event streams');

for my $i (0 .. 2) {
    my @events = $r[$i]{body} =~ /^data: (.*)$/mg;

    is($events[-1], '[DONE]', "SSE stream $i: ends with [DONE]");
    is(scalar(grep { /"chat\.completion\.chunk"/ } @events), 8,
       "SSE stream $i: every chunk arrived");
}

for my $id (qw(h2-dpop-1 h2-dpop-2 h2-bearer)) {
    my $rec = record($id);

    ok($rec, "$id: the mock saw the request") or next;
    is($rec->{http_version}, 'HTTP/1.1', "$id: HTTP/1.1 to the provider");
    is_deeply([grep { $_ eq 'dpop' || $_ eq 'authorization' }
               map { lc $_->[0] } @{ $rec->{headers} }], [],
              "$id: neither DPoP nor Authorization reached the provider");
    is_deeply($rec->{auth}, { verdict => 'ok', scheme => 'api-key' },
              "$id: the provider key was injected");
    is($rec->{jwt_in}, undef, "$id: no JWT anywhere in the request");
}

# 6. a stream the provider cuts short is reset, that stream alone; the
# others on the connection, one certificate-bound, end whole

my $ALICE_TEXT = bound('alice', 'alice', scope => 'text');

@r = h2({ parallel => 1, allow_fail => 1 },
        map { { %$_, cert => 'alice' } }
        chat('h2-cut', "Authorization: Bearer $CHAT_BEARER",
             'X-Mock-Fault: reset-mid-stream'),
        chat('h2-whole-1', "Authorization: Bearer $CHAT_BEARER"),
        chat('h2-whole-2', "Authorization: Bearer $ALICE_TEXT"));

one_h2_connection('cut stream', @r);
is_deeply(codes(@r), [200, 200, 200], 'cut stream: codes');
is_deeply([map { $_->{exit} } @r], [92, 0, 0],
          'cut stream: curl saw that stream reset (92), the others whole');
unlike($r[0]{body}, qr/\[DONE\]/, 'cut stream: no [DONE] on the cut one');
is_deeply([map { ($_->{body} =~ /^data: (.*)$/mg)[-1] } @r[1, 2]],
          ['[DONE]', '[DONE]'], 'cut stream: the others end with [DONE]');
my $rec = record('h2-whole-2');
ok($rec && !defined $rec->{jwt_in},
   'cut stream: the certificate-bound token did not reach the provider');

# 7. the events reach the HTTP/2 client as the provider sends them, not
# once it is done: 10 events 200 ms apart

my $proof = post_proof();
my @lines = grep { $_->[1] =~ /^data: / }
    curl_lines('--http2', '--cacert', "$certs/ca.crt",
               '--resolve', "localhost:$port:127.0.0.1",
               '-H', 'Content-Type: application/json',
               '-H', 'X-Mock-Delay-Ms: 200',
               '-H', "Authorization: DPoP $DPOP", '-H', $proof,
               '--data-binary', $CHAT, "$origin$PATH$QUERY");

is(scalar @lines, 10, 'streamed: 10 events');
like($lines[-1][1], qr/^data: \[DONE\]/, 'streamed: the last is [DONE]');
cmp_ok($lines[-1][0] - $lines[0][0], '>=', 1.2,
       'streamed: the first event came at least 1.2 s before the last');

nginx_stop($pid);
$pid = undef;

done_testing();
