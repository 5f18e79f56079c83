# llmgw_pass over TLS: the provider's certificate is verified by default
# (against llmgw_pass_ssl_trusted_certificate, or the system's CAs), the
# name verified and sent as SNI is the Host's unless named, sessions are
# reused, and streaming and SigV4 work the same over TLS.

BEGIN { push @INC, 't/lib' }
use lib 't/pass';
use Test::Nginx::Socket;
use LLMGW::LogPhase;
use PassClient;

our $GEMINI = '{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}';
our $CONVERSE = '{"messages":[{"role":"user","content":[{"text":"hi"}]}]}';
our $GENERATE = '/gemini/v1beta/models/gemini-2.0-flash:generateContent';
our $MODEL = 'anthropic.claude-3-5-sonnet-20240620-v1%3A0';

our $E502 = '{"error":{"code":"bad_gateway","message":"the provider could '
            . 'not be reached or sent an invalid response"}}' . "\n";

if (!$ENV{TEST_NGINX_MOCK_TLS_PORT} || !$ENV{TEST_NGINX_MOCK_CERTS}) {
    plan(skip_all => 'no TLS mock provider (t/run-tests.sh starts one)');

} else {
    repeat_each(2);
    plan tests => repeat_each() * 32 + 9;
}

log_level('debug');
no_shuffle();

our $HttpConfig = <<'_EOC_';
    log_format llmgw_audit 'llmgw-audit id=$http_x_test_id status=$status '
                           'provider=$llmgw_provider model=$llmgw_model '
                           'outcome=$llmgw_upstream_outcome';
    access_log logs/error.log llmgw_audit;
_EOC_

our $Locations = <<'_EOC_';
    location = /mock/health {
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/__mock/health;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config',
                      $HttpConfig . ($block->http_config // ''));
    $block->set_value('config', $Locations . ($block->config // ''));

    if (!defined $block->request && !defined $block->pipelined_requests) {
        $block->set_value('request', 'GET /mock/health');
        $block->set_value('response_body_like', '"status": "ok"');
    }
});


sub port {
    return $Test::Nginx::Util::ServerPortForClient
           || $Test::Nginx::Util::ServerPort;
}


run_tests();

__DATA__

=== TEST 1: verification on with the test CA: the provider answers
--- config
location /gemini/ {
    llmgw_pass https://127.0.0.1:$TEST_NGINX_MOCK_TLS_PORT;
    llmgw_provider gemini;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/gemini.key;
    llmgw_pass_ssl_trusted_certificate $TEST_NGINX_MOCK_CERTS/ca.crt;
    llmgw_pass_ssl_name localhost;
}
--- request eval
"POST $::GENERATE\n$::GEMINI"
--- more_headers
X-Test-Id: tls1
Content-Type: application/json
--- response_body_like: "text": "Hello from the llmgw mock\."
--- error_log
llmgw-audit id=tls1 status=200 provider=gemini model=gemini-2.0-flash outcome=ok
--- no_error_log
[error]



=== TEST 2: the Host's name is the one verified (and sent as SNI) by default
--- config
location /gemini/ {
    llmgw_pass https://127.0.0.1:$TEST_NGINX_MOCK_TLS_PORT;
    llmgw_provider gemini;
    llmgw_pass_host mock.llmgw.test:443;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/gemini.key;
    llmgw_pass_ssl_trusted_certificate $TEST_NGINX_MOCK_CERTS/ca.crt;
}
--- request eval
"POST $::GENERATE\n$::GEMINI"
--- more_headers
Content-Type: application/json
--- response_body_like: "text": "Hello from the llmgw mock\."
--- error_log
upstream SSL server name: "mock.llmgw.test"
--- no_error_log
[error]



=== TEST 3: verification is on by default: the test CA is not a system CA, 502 JSON
--- config
location /gemini/ {
    llmgw_pass https://127.0.0.1:$TEST_NGINX_MOCK_TLS_PORT;
    llmgw_provider gemini;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/gemini.key;
    llmgw_pass_ssl_name localhost;
}
--- request eval
"POST $::GENERATE\n$::GEMINI"
--- more_headers
X-Test-Id: tls3
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_body eval
$::E502
--- error_log
upstream SSL certificate verify error:
llmgw-audit id=tls3 status=502 provider=gemini model=gemini-2.0-flash outcome=connect_error



=== TEST 4: a certificate for another name: 502 JSON
--- config
location /gemini/ {
    llmgw_pass https://127.0.0.1:$TEST_NGINX_MOCK_TLS_PORT;
    llmgw_provider gemini;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/gemini.key;
    llmgw_pass_ssl_trusted_certificate $TEST_NGINX_MOCK_CERTS/ca.crt;
    llmgw_pass_ssl_name generativelanguage.googleapis.com;
}
--- request eval
"POST $::GENERATE\n$::GEMINI"
--- error_code: 502
--- response_body eval
$::E502
--- error_log
upstream SSL certificate does not match "generativelanguage.googleapis.com"



=== TEST 5: llmgw_pass_ssl_verify off is an explicit choice
--- config
location /gemini/ {
    llmgw_pass https://127.0.0.1:$TEST_NGINX_MOCK_TLS_PORT;
    llmgw_provider gemini;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/gemini.key;
    llmgw_pass_ssl_verify off;
}
--- request eval
"POST $::GENERATE\n$::GEMINI"
--- response_body_like: "text": "Hello from the llmgw mock\."



=== TEST 6: TLS sessions are reused from one provider connection to the next
--- config
location /gemini/ {
    llmgw_pass https://127.0.0.1:$TEST_NGINX_MOCK_TLS_PORT;
    llmgw_provider gemini;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/gemini.key;
    llmgw_pass_ssl_trusted_certificate $TEST_NGINX_MOCK_CERTS/ca.crt;
    llmgw_pass_ssl_name localhost;
}
--- init
my $log = $Test::Nginx::Util::ErrLogFile;
my $pos = -s $log;
my @st = map {
    PassClient::request(port => main::port(), path => $::GENERATE,
                        body => $::GEMINI)->{status}
} 1 .. 3;
Test::More::is("@st", '200 200 200', 'session reuse: all answered');
Test::More::cmp_ok(PassClient::count_since($log, $pos,
                       qr/SSL reused session/, 2),
                   '>=', 2, 'session reuse: later handshakes resume');



=== TEST 7: llmgw_pass_ssl_session_reuse off: every handshake is a full one
--- config
location /gemini/ {
    llmgw_pass https://127.0.0.1:$TEST_NGINX_MOCK_TLS_PORT;
    llmgw_provider gemini;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/gemini.key;
    llmgw_pass_ssl_trusted_certificate $TEST_NGINX_MOCK_CERTS/ca.crt;
    llmgw_pass_ssl_name localhost;
    llmgw_pass_ssl_session_reuse off;
}
--- init
my $log = $Test::Nginx::Util::ErrLogFile;
my $pos = -s $log;
my @st = map {
    PassClient::request(port => main::port(), path => $::GENERATE,
                        body => $::GEMINI)->{status}
} 1 .. 3;
Test::More::is("@st", '200 200 200', 'no session reuse: all answered');
Test::More::is(PassClient::count_since($log, $pos, qr/SSL reused session/,
                                       1, 1),
               0, 'no session reuse: no handshake resumed');



=== TEST 8: Gemini alt=sse over TLS: events arrive as they are sent
--- config
location /gemini/ {
    llmgw_pass https://127.0.0.1:$TEST_NGINX_MOCK_TLS_PORT;
    llmgw_provider gemini;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/gemini.key;
    llmgw_pass_ssl_trusted_certificate $TEST_NGINX_MOCK_CERTS/ca.crt;
    llmgw_pass_ssl_name localhost;
}
--- init
my $r = PassClient::request(port => main::port(),
                            path => '/gemini/v1beta/models/gemini-2.0-flash:'
                                    . 'streamGenerateContent?alt=sse',
                            body => $::GEMINI,
                            headers => ['X-Mock-Delay-Ms: 500',
                                        'X-Mock-Events: 4']);
my $b = $r->{bursts};
Test::More::is($r->{status}, 200, 'tls sse: status');
Test::More::ok($r->{complete}, 'tls sse: complete');
Test::More::is(scalar @$b, 4, "tls sse: four bursts (@$b)");
# events 500 ms apart: the first before the second is sent (a TLS
# handshake under ASan on a loaded machine takes ~0.3 s of it)
Test::More::cmp_ok($b->[0], '<', 0.45, 'tls sse: first event at once');
Test::More::cmp_ok($b->[-1] - $b->[0], '>=', 1.2,
                   'tls sse: the last event later');



=== TEST 9: Bedrock over TLS through an upstream{} with keepalive: SigV4 with the provider's Host
--- http_config
upstream bedrock_tls {
    server 127.0.0.1:$TEST_NGINX_MOCK_TLS_PORT;
    keepalive 2;
}
--- config
location /bedrock-claude/ {
    llmgw_pass https://bedrock_tls;
    llmgw_provider bedrock;
    llmgw_pass_host bedrock-runtime.us-east-1.amazonaws.com;
    llmgw_pass_aws_credentials file=$TEST_NGINX_MOCK_SECRETS/aws-credentials-session;
    llmgw_pass_ssl_trusted_certificate $TEST_NGINX_MOCK_CERTS/ca.crt;
    llmgw_pass_ssl_name mock.llmgw.test;
}
--- pipelined_requests eval
["POST /bedrock-claude/model/$::MODEL/converse-stream\n$::CONVERSE",
 "POST /bedrock-claude/model/$::MODEL/converse\n$::CONVERSE"]
--- more_headers
X-Test-Id: tls9
X-Mock-Delay-Ms: 1
Content-Type: application/json
--- response_body_like eval
[qr/:event-type\x07\x00\x0cmessageStart.*:event-type\x07\x00\x08metadata/s,
 qr/"text": "Hello from the llmgw mock\."/]
--- response_headers eval
["Content-Type: application/vnd.amazon.eventstream",
 "Content-Type: application/json"]
--- no_error_log
[error]
