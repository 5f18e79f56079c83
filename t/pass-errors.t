# llmgw_pass failures: the gateway's own errors are JSON (502 when the
# provider cannot be reached or answers nonsense, 504 when it is too slow,
# 413 for a body over client_max_body_size), the provider's errors pass
# through unchanged; an upstream{} block with a dead server, connection
# reuse, and large bodies sent from nginx's temporary file.

BEGIN { push @INC, 't/lib' }
use lib 't/pass';
use Test::Nginx::Socket;
use LLMGW::LogPhase;
use PassClient;
use Digest::SHA ();
use File::Temp ();

our $CHAT = '{"messages":[{"role":"user","content":"hi"}]}';
our $SCHAT = '{"stream":true,"messages":[{"role":"user","content":"hi"}]}';
our $CONVERSE = '{"messages":[{"role":"user","content":[{"text":"hi"}]}]}';

our $AZURE = '/azure-openai/openai/deployments/gpt-4o/chat/completions'
             . '?api-version=2024-10-21';
our $MODEL = 'anthropic.claude-3-5-sonnet-20240620-v1%3A0';

our $E502 = '{"error":{"code":"bad_gateway","message":"the provider could '
            . 'not be reached or sent an invalid response"}}' . "\n";
our $E504 = '{"error":{"code":"gateway_timeout","message":"the provider '
            . 'did not respond in time"}}' . "\n";
our $E413 = '{"error":{"code":"payload_too_large","message":"the request '
            . 'body is too large"}}' . "\n";

# a 25 MiB audio upload, multipart/form-data as the OpenAI SDKs send it
our $BOUNDARY = 'llmgw-pass-test-boundary';
our $AUDIO = join '', map { pack('N', $_ * 2654435761 % 4294967296) }
                      0 .. 25 * 1024 * 1024 / 4 - 1;
our $AUDIO_SHA = Digest::SHA::sha256_hex($AUDIO);
our $UPLOAD = "--$BOUNDARY\r\n"
    . "Content-Disposition: form-data; name=\"model\"\r\n\r\nwhisper\r\n"
    . "--$BOUNDARY\r\n"
    . "Content-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
    . "Content-Type: audio/wav\r\n\r\n$AUDIO\r\n--$BOUNDARY--\r\n";

# a 3 MiB Bedrock request: the signature covers the hash of a body that
# nginx keeps in a temporary file
our $BIG_CONVERSE = '{"messages":[{"role":"user","content":[{"text":"'
                    . ('x' x (3 * 1024 * 1024)) . '"}]}]}';

if (!$ENV{TEST_NGINX_MOCK_PORT}) {
    plan(skip_all => 'no mock provider (t/run-tests.sh starts one)');

} else {
    repeat_each(2);
    plan tests => repeat_each() * 74 + 54;
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

=== TEST 1: provider down: 502 with a JSON body, outcome connect_error
--- config
location /azure-openai/ {
    llmgw_pass http://127.0.0.1:1;
    llmgw_provider azure_openai;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
}
--- request eval
"POST $::AZURE\n$::CHAT"
--- more_headers
X-Test-Id: e1
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_body eval
$::E502
--- error_log
connect() failed (111: Connection refused) while connecting to upstream
llmgw-audit id=e1 status=502 provider=azure_openai model=gpt-4o outcome=connect_error



=== TEST 2: provider too slow to answer: 504 with a JSON body, outcome timeout
--- config
location /azure-openai/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider azure_openai;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
    llmgw_pass_read_timeout 500ms;
}
--- request eval
"POST $::AZURE\n$::CHAT"
--- more_headers
X-Test-Id: e2
X-Mock-Fault: slow-2000
--- error_code: 504
--- response_headers
Content-Type: application/json
--- response_body eval
$::E504
--- error_log
upstream timed out (110: Connection timed out) while reading response header from upstream
llmgw-audit id=e2 status=504 provider=azure_openai model=gpt-4o outcome=timeout



=== TEST 3: a provider that never answers: 504 JSON
--- config
location /bedrock-claude/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider bedrock;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/bedrock-api.key;
    llmgw_pass_read_timeout 500ms;
}
--- request eval
"POST /bedrock-claude/model/$::MODEL/converse\n$::CONVERSE"
--- more_headers
X-Test-Id: e3
X-Mock-Fault: hang
--- error_code: 504
--- response_body eval
$::E504
--- error_log
llmgw-audit id=e3 status=504 provider=bedrock model=anthropic.claude-3-5-sonnet-20240620-v1:0 outcome=timeout



=== TEST 4: the provider stalls mid-stream: the client's stream is cut, outcome timeout
--- config
location /azure-openai/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider azure_openai;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
    llmgw_pass_read_timeout 700ms;
}
--- init
my $port = $Test::Nginx::Util::ServerPortForClient
           || $Test::Nginx::Util::ServerPort;
my $r = PassClient::request(port => $port, path => $::AZURE, body => $::SCHAT,
                            headers => ['X-Test-Id: e4',
                                        'X-Mock-Delay-Ms: 2500',
                                        'Content-Type: application/json']);
Test::More::is($r->{status}, 200, 'stalled stream: status');
Test::More::is($r->{framing}, 'chunked', 'stalled stream: chunked');
Test::More::ok(!$r->{complete}, 'stalled stream: no last chunk');
Test::More::ok($r->{eof} && !$r->{timed_out}, 'stalled stream: closed');
Test::More::like($r->{body}, qr/\Adata: /, 'stalled stream: first event');
Test::More::like(PassClient::wait_line($Test::Nginx::Util::ErrLogFile,
                                       qr/llmgw-audit id=e4 /, 5) // '',
                 qr/status=200 provider=azure_openai model=gpt-4o outcome=timeout/,
                 'stalled stream: audit');



=== TEST 5: 429 from the provider passes through with its body and Retry-After
--- config
location /azure-openai/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider azure_openai;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
}
--- request eval
"POST $::AZURE\n$::CHAT"
--- more_headers
X-Test-Id: e5
X-Mock-Fault: status-429
--- error_code: 429
--- response_headers
Retry-After: 1
retry-after-ms: 1000
--- response_body_like: \A\{"error": \{"code": "429", "message": "Requests to the ChatCompletions_Create Operation under Azure OpenAI API have exceeded token rate limit
--- error_log
llmgw-audit id=e5 status=429 provider=azure_openai model=gpt-4o outcome=http_error



=== TEST 6: 500 from the provider passes through with its body
--- config
location /bedrock-claude/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider bedrock;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/bedrock-api.key;
}
--- request eval
"POST /bedrock-claude/model/$::MODEL/converse\n$::CONVERSE"
--- more_headers
X-Test-Id: e6
X-Mock-Fault: status-500
--- error_code: 500
--- response_headers
x-amzn-ErrorType: InternalServerException
--- response_body: {"message": "The server encountered an internal error."}
--- error_log
llmgw-audit id=e6 status=500 provider=bedrock model=anthropic.claude-3-5-sonnet-20240620-v1:0 outcome=http_error



=== TEST 7: upstream{} with a dead server and a live one: every request answered
--- http_config
upstream providers {
    server 127.0.0.1:1;
    server 127.0.0.1:$TEST_NGINX_MOCK_PORT;
}
--- config
location /azure-openai/ {
    llmgw_pass providers;
    llmgw_provider azure_openai;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
}
--- init
my $log = $Test::Nginx::Util::ErrLogFile;
my $pos = -s $log;
my @st = map {
    PassClient::request(port => main::port(), path => $::AZURE,
                        body => $::CHAT,
                        headers => ['X-Test-Id: e7'])->{status}
} 1 .. 4;
Test::More::is("@st", '200 200 200 200', 'dead server: all answered');
my $new = PassClient::log_since($log, $pos);
my @refused = $new =~ /connect\(\) failed \(111: Connection refused\) while connecting to upstream.*upstream: "http:\/\/127\.0\.0\.1:1\//g;
Test::More::is(scalar @refused, 1, 'dead server: tried once');
Test::More::like($new, qr/upstream server temporarily disabled/,
                 'dead server: then left alone');
Test::More::is(PassClient::count_since($log, $pos,
                   qr/llmgw-audit id=e7 status=200 provider=azure_openai model=gpt-4o outcome=ok/,
                   4),
               4, 'dead server: four audit lines, outcome ok');



=== TEST 8: upstream{} keepalive: the provider connection is reused
--- http_config
upstream providers_ka {
    server 127.0.0.1:$TEST_NGINX_MOCK_PORT;
    keepalive 4;
}
--- config
location /azure-openai/ {
    llmgw_pass providers_ka;
    llmgw_provider azure_openai;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
}
--- init
my $log = $Test::Nginx::Util::ErrLogFile;
my $pos = -s $log;
my @st = map {
    PassClient::request(port => main::port(), path => $::AZURE,
                        body => $_, headers => ['X-Mock-Delay-Ms: 1'])
        ->{status}
} $::CHAT, $::SCHAT, $::CHAT, $::SCHAT;
Test::More::is("@st", '200 200 200 200', 'keepalive: all answered');
Test::More::is(PassClient::count_since($log, $pos,
                   qr/free keepalive peer: saving connection/, 4),
               4, 'keepalive: kept after each response');
Test::More::is(PassClient::count_since($log, $pos,
                   qr/get keepalive peer: using connection/, 3),
               3, 'keepalive: reused by the next requests');



=== TEST 9: a 25 MiB multipart upload goes from nginx's temporary file, whole
--- config
location /azure-openai/ {
    client_max_body_size 30m;
    client_body_buffer_size 16k;
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider azure_openai;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
}
--- request eval
"POST /azure-openai/openai/deployments/whisper/audio/transcriptions?api-version=2024-10-21\n$::UPLOAD"
--- more_headers eval
"Content-Type: multipart/form-data; boundary=$::BOUNDARY\nX-Test-Id: e9"
--- timeout: 30
--- response_body eval
qq({"text": "llmgw-mock transcription of a.wav: 26214400 bytes, sha256 $::AUDIO_SHA"})
--- error_log
a client request body is buffered to a temporary file
llmgw-audit id=e9 status=200 provider=azure_openai model=whisper outcome=ok



=== TEST 10: SigV4 over a 3 MiB body kept in a temporary file
--- config
location /bedrock-claude/ {
    client_max_body_size 10m;
    client_body_buffer_size 16k;
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider bedrock;
    llmgw_pass_host bedrock-runtime.us-east-1.amazonaws.com;
    llmgw_pass_aws_credentials file=$TEST_NGINX_MOCK_SECRETS/aws-credentials;
}
--- request eval
"POST /bedrock-claude/model/$::MODEL/converse\n$::BIG_CONVERSE"
--- more_headers
Content-Type: application/json
--- timeout: 20
--- response_body_like: "text": "Hello from the llmgw mock\."
--- error_log
a client request body is buffered to a temporary file



=== TEST 11: a body over client_max_body_size: 413 with a JSON body
--- config
location /azure-openai/ {
    client_max_body_size 1k;
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider azure_openai;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
}
--- request eval
"POST $::AZURE\n" . ('x' x 4096)
--- error_code: 413
--- response_headers
Content-Type: application/json
--- response_body eval
$::E413



=== TEST 12: a response with an unsupported Transfer-Encoding: 502 JSON, bad_response
--- config
location /fake-provider/ {
    add_header Transfer-Encoding gzip;
    return 200 "not what it says\n";
}

location /openai/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/fake-provider;
    llmgw_provider openai;
}
--- request
POST /openai/v1/chat/completions
{}
--- more_headers
X-Test-Id: e12
--- error_code: 502
--- response_body eval
$::E502
--- error_log
upstream sent unsupported "Transfer-Encoding": "gzip"
llmgw-audit id=e12 status=502 provider=openai model=- outcome=bad_response



=== TEST 13: a response with two Content-Length headers: 502 JSON
--- config
location /fake-provider/ {
    add_header Content-Length 3;
    return 200 "not what it says\n";
}

location /openai/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/fake-provider;
    llmgw_provider openai;
}
--- request
POST /openai/v1/chat/completions
{"model":"m"}
--- more_headers
X-Test-Id: e13
--- error_code: 502
--- response_body eval
$::E502
--- error_log
upstream sent duplicate "Content-Length" header
llmgw-audit id=e13 status=502 provider=openai model=m outcome=bad_response



=== TEST 14: configurations nginx -t refuses, with a clear message and no secret in it
--- init
my $S = $ENV{TEST_NGINX_MOCK_SECRETS};
my $dir = File::Temp::tempdir('llmgw-pass-keys-XXXXXX', TMPDIR => 1,
                              CLEANUP => 1);
open my $fh, '>', "$dir/bad.key" or die $!;
print $fh "sk-LEAKED-VALUE\x01tail\n";
close $fh;
my @cases = (
    ['no provider', 'location /a/ { llmgw_pass http://127.0.0.1:1; }',
     qr/"llmgw_pass" needs "llmgw_provider"/],
    ['unknown provider', 'location /a/ { llmgw_pass http://127.0.0.1:1; '
     . 'llmgw_provider anthropic; }',
     qr/unknown provider "anthropic"/],
    ['no key', 'location /a/ { llmgw_pass http://127.0.0.1:1; '
     . 'llmgw_provider azure_openai; }',
     qr/provider "azure_openai" needs "llmgw_pass_api_key"/],
    ['key and SigV4', 'location /a/ { llmgw_pass http://127.0.0.1:1; '
     . 'llmgw_provider bedrock; llmgw_pass_api_key file=' . "$S/bedrock-api.key; "
     . "llmgw_pass_aws_credentials file=$S/aws-credentials; "
     . 'llmgw_pass_host bedrock-runtime.eu-west-1.amazonaws.com; }',
     qr/"llmgw_pass_aws_credentials" and "llmgw_pass_api_key" exclude each other/],
    ['SigV4 without a region', 'location /a/ { llmgw_pass http://127.0.0.1:1; '
     . "llmgw_provider bedrock; llmgw_pass_aws_credentials file=$S/aws-credentials; }",
     qr/needs "llmgw_pass_aws_region" when the host "127\.0\.0\.1:1" does not name the region/],
    ['no such profile', 'location /a/ { llmgw_pass http://127.0.0.1:1; '
     . "llmgw_provider bedrock; llmgw_pass_aws_credentials file=$S/aws-credentials profile=other; }",
     qr/no profile "other" with aws_access_key_id and aws_secret_access_key/],
    ['unset variable', 'location /a/ { llmgw_pass http://127.0.0.1:1; '
     . 'llmgw_provider gemini; llmgw_pass_api_key env=LLMGW_PASS_NOT_SET_XYZ; }',
     qr/environment variable "LLMGW_PASS_NOT_SET_XYZ" is not set/],
    ['control character', 'location /a/ { llmgw_pass http://127.0.0.1:1; '
     . "llmgw_provider gemini; llmgw_pass_api_key file=$dir/bad.key; }",
     qr/the secret in file "\Q$dir\E\/bad\.key" is empty or holds control characters/],
    ['a query in the URL', 'location /a/ { llmgw_pass http://127.0.0.1:1/x?key=1; '
     . 'llmgw_provider openai; }',
     qr/"llmgw_pass" takes no query string/],
);
for my $c (@cases) {
    my ($status, $out) = PassClient::nginx_t($c->[1]);
    Test::More::isnt($status, 0, "nginx -t refuses: $c->[0]");
    Test::More::like($out, $c->[2], "nginx -t says why: $c->[0]");
    Test::More::unlike($out, qr/sk-LEAKED|mock[A-Za-z]*Key|AKIA|ASIA/,
                       "nginx -t shows no secret: $c->[0]");
}
my ($status, $out) = PassClient::nginx_t(
    'location /a/ { llmgw_pass https://127.0.0.1:1; '
    . 'llmgw_pass_host bedrock-runtime.eu-west-1.amazonaws.com; '
    . "llmgw_provider bedrock; llmgw_pass_aws_credentials file=$S/aws-credentials; }"
    . ' location /b/ { llmgw_pass http://127.0.0.1:1; llmgw_provider openai; }');
Test::More::is($status, 0, "nginx -t accepts a valid configuration: $out");



=== TEST 15: chunk size -1 with the header: 502 JSON, bad_response, logged as 502
--- config
location /azure-openai/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider azure_openai;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
}
--- request eval
"POST $::AZURE\n$::SCHAT"
--- more_headers
X-Test-Id: e15
X-Mock-Fault: bad-chunk-minus1
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_body eval
$::E502
--- error_log
llmgw_pass: upstream sent invalid chunked response while reading response header from upstream
llmgw-audit id=e15 status=502 provider=azure_openai model=gpt-4o outcome=bad_response



=== TEST 16: chunk size 7FFFFFFFFFFFFFFF with the header: 502 JSON, bad_response
--- config
location /azure-openai/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider azure_openai;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
}
--- request eval
"POST $::AZURE\n$::SCHAT"
--- more_headers
X-Test-Id: e16
X-Mock-Fault: bad-chunk-huge
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_body eval
$::E502
--- error_log
llmgw_pass: upstream sent invalid chunked response while reading response header from upstream
llmgw-audit id=e16 status=502 provider=azure_openai model=gpt-4o outcome=bad_response



=== TEST 17: an invalid status line: 502 JSON, bad_response
--- config
location /azure-openai/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider azure_openai;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
}
--- request eval
"POST $::AZURE\n$::CHAT"
--- more_headers
X-Test-Id: e17
X-Mock-Fault: bad-status-line
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_body eval
$::E502
--- error_log
llmgw_pass: upstream sent no valid HTTP/1.x status line
llmgw-audit id=e17 status=502 provider=azure_openai model=gpt-4o outcome=bad_response



=== TEST 18: an invalid header line: 502 JSON, bad_response
--- config
location /azure-openai/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider azure_openai;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
}
--- request eval
"POST $::AZURE\n$::CHAT"
--- more_headers
X-Test-Id: e18
X-Mock-Fault: bad-header-line
--- error_code: 502
--- response_headers
Content-Type: application/json
--- response_body eval
$::E502
--- error_log
llmgw_pass: upstream sent invalid header
llmgw-audit id=e18 status=502 provider=azure_openai model=gpt-4o outcome=bad_response



=== TEST 19: broken chunk sizes after the header went out: the stream is cut, no last chunk, bad_response
--- config
location /azure-openai/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    llmgw_provider azure_openai;
    llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
}
--- init
my $log = $Test::Nginx::Util::ErrLogFile;
my $pos = -s $log;
for my $c (['e19a', 'bad-chunk-minus1-late'], ['e19b', 'bad-chunk-huge-late']) {
    my ($id, $fault) = @$c;
    my $r = PassClient::request(port => main::port(), path => $::AZURE,
                                body => $::SCHAT,
                                headers => ["X-Test-Id: $id",
                                            "X-Mock-Fault: $fault",
                                            'X-Mock-Delay-Ms: 300',
                                            'Content-Type: application/json']);
    Test::More::is($r->{status}, 200, "$fault: the status went out");
    Test::More::is($r->{framing}, 'chunked', "$fault: chunked");
    Test::More::is($r->{body}, qq{data: {"llmgw-mock": "first event"}\n\n},
                   "$fault: the first event arrived");
    Test::More::ok(!$r->{complete}, "$fault: no last chunk");
    Test::More::ok($r->{eof} && !$r->{timed_out}, "$fault: closed");
    Test::More::like(PassClient::wait_line($log, qr/llmgw-audit id=$id /, 5)
                     // '',
                     qr/status=200 provider=azure_openai model=gpt-4o outcome=bad_response/,
                     "$fault: audit");
}
Test::More::is(PassClient::count_since($log, $pos,
                   qr/llmgw_pass: upstream sent invalid chunked response while reading upstream/,
                   2, 5),
               2, 'broken chunk sizes: logged');



=== TEST 20: a header too big for llmgw_pass_buffer_size: 502 JSON, bad_response, not connect_error
--- config
location /fake-provider/ {
    add_header X-Big $http_x_big;
    return 200 "{}\n";
}

location /openai/ {
    llmgw_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/fake-provider;
    llmgw_provider openai;
    llmgw_pass_buffer_size 1k;
}
--- request
POST /openai/v1/chat/completions
{"model":"m"}
--- more_headers eval
"X-Test-Id: e20\nX-Big: " . ('b' x 2000)
--- error_code: 502
--- response_body eval
$::E502
--- error_log
upstream sent too big header
llmgw-audit id=e20 status=502 provider=openai model=m outcome=bad_response
