# llmgw_pass_include_usage: a streamed chat or completions request to Azure
# OpenAI or OpenAI that did not ask for stream_options.include_usage gets
# it added by the gateway (body rewritten, Content-Length fixed), so that
# its usage is read ($llmgw_usage_*), and the client receives exactly the
# bytes the provider sends for the request as the client sent it: the
# usage chunk and the "usage": null members are taken out on the way.
#
# The reference: what the mock (t/mock/llmgw-mock, faithful to OpenAI's
# documentation here) answers to the original request, fetched from it
# directly before the tests with the same X-Mock-Id (a fixed id and
# created time, so that two answers are byte for byte comparable).

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket;
use LLMGW::LogPhase;
use LLMGW::Mock;
use HTTP::Tiny;

our $CHAT_STREAM = '{"stream":true,"messages":[{"role":"user",'
                   . '"content":"one two three"}]}';
our $CHAT_STREAM_USAGE = '{"stream":true,"stream_options":'
                         . '{"include_usage":true},"messages":[{"role":'
                         . '"user","content":"one two three"}]}';
our $CHAT_STREAM_FALSE = '{"stream":true,"stream_options":'
                         . '{"include_usage":false},"messages":[{"role":'
                         . '"user","content":"one two three"}]}';
our $CHAT_STREAM_NULL = '{"stream":true,"stream_options":null,'
                        . '"messages":[{"role":"user","content":'
                        . '"one two three"}]}';
our $OAI_STREAM = '{"model":"gpt-4o-mini","stream":true,"messages":'
                  . '[{"role":"user","content":"four words right here"}]}';
our $COMPLETIONS_STREAM = '{"prompt":"a b c d","stream":true}';

our %REF;

sub secret {
    my $f = "$ENV{TEST_NGINX_MOCK_SECRETS}/$_[0]";
    open my $fh, '<', $f or die "$f: $!";
    local $/;
    return scalar <$fh>;
}

# the mock's answer to a request sent to it directly
sub mock {
    my ($path, $auth, $body, %h) = @_;
    my $r = HTTP::Tiny->new(timeout => 10)->post(
        "http://127.0.0.1:$ENV{TEST_NGINX_MOCK_PORT}$path",
        { headers => { %$auth, 'Content-Type' => 'application/json',
                       'X-Mock-Id' => 'inc1', 'X-Mock-Events' => 3,
                       'X-Mock-Delay-Ms' => 0, %h },
          content => $body });
    die "the mock answered $r->{status} to $path: $r->{content}"
        unless $r->{status} == 200;
    return $r->{content};
}

if (!$ENV{TEST_NGINX_MOCK_PORT}) {
    plan(skip_all => 'no mock provider (t/run-tests.sh starts one)');

} else {
    my $az = { 'api-key' => secret('azure.key') };
    my $oai = { 'Authorization' => 'Bearer ' . secret('openai.key') };
    my $chat = "/openai/deployments/gpt-4o/chat/completions$Q";

    $REF{az} = mock($chat, $az, $CHAT_STREAM);
    $REF{az_usage} = mock($chat, $az, $CHAT_STREAM_USAGE);
    $REF{az_plain} = mock($chat, $az, $CHAT);
    $REF{oai} = mock('/v1/chat/completions', $oai, $OAI_STREAM);
    $REF{cmpl} = mock("/openai/deployments/gpt-35/completions$Q", $az,
                      $COMPLETIONS_STREAM);

    # what makes these tests able to fail: with include_usage the mock
    # sends more, as OpenAI documents it
    for my $k (qw(az oai cmpl)) {
        die "the mock's $k stream mentions usage"
            if $REF{$k} =~ /usage/ || $REF{$k} !~ /data: \[DONE\]\n\n\z/;
    }

    die "the mock sent no usage chunk or \"usage\":null members"
        unless $REF{az_usage} =~ /"choices":\[\],"usage":\{"prompt_tokens"/
               && $REF{az_usage} =~ /"finish_reason":"stop"[^\n]*,"usage":null\}\n\n/;

    repeat_each(2);
    plan tests => repeat_each() * 62;
}

log_level('info');
no_shuffle();

our $HttpConfig = mock_usage_log();

our $Locations = mock_locations(qw(azure-openai openai))
                 . <<'_EOC_';

    location /azure-off/ {
        llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
        llmgw_provider azure_openai;
        llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
        llmgw_pass_strip_prefix /azure-off;
        llmgw_pass_include_usage off;
    }

    location /azure-file/ {
        llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
        llmgw_provider azure_openai;
        llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
        llmgw_pass_strip_prefix /azure-file;
        client_body_in_file_only clean;
    }

    location = /mock/reset {
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/__mock/reset;
    }

    location = /mock/requests {
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/__mock/requests;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('http_config',
                      $HttpConfig . ($block->http_config // ''));
    $block->set_value('config', $Locations . ($block->config // ''));
});

run_tests();

__DATA__

=== TEST 1: Azure chat streamed without include_usage: billed, and the client gets what the provider sends for its request
--- request eval
"POST $::AZURE/gpt-4o/chat/completions$::Q\n$::CHAT_STREAM"
--- more_headers
X-Test-Id: i1
X-Mock-Id: inc1
X-Mock-Events: 3
X-Mock-Delay-Ms: 5
Content-Type: application/json
--- response_body eval: $::REF{az}
--- error_log
llmgw-audit id=i1 status=200 api=chat outcome=ok stream=1 usage=provider in=3 out=3 total=6;



=== TEST 2: the provider's stream written byte by byte, each byte a chunk
--- request eval
"POST $::AZURE/gpt-4o/chat/completions$::Q\n$::CHAT_STREAM"
--- more_headers
X-Test-Id: i2
X-Mock-Id: inc1
X-Mock-Events: 3
X-Mock-Delay-Ms: 0
X-Mock-Split: 1
Content-Type: application/json
--- response_body eval: $::REF{az}
--- error_log
llmgw-audit id=i2 status=200 api=chat outcome=ok stream=1 usage=provider in=3 out=3 total=6;



=== TEST 3: the provider's stream in pieces of 7 bytes, 1 ms apart
--- request eval
"POST $::AZURE/gpt-4o/chat/completions$::Q\n$::CHAT_STREAM"
--- more_headers
X-Test-Id: i3
X-Mock-Id: inc1
X-Mock-Events: 3
X-Mock-Delay-Ms: 0
X-Mock-Split: 7
X-Mock-Split-Delay-Ms: 1
Content-Type: application/json
--- response_body eval: $::REF{az}
--- error_log
llmgw-audit id=i3 status=200 api=chat outcome=ok stream=1 usage=provider in=3 out=3 total=6;



=== TEST 4: a stream with the provider's Content-Length: the client gets none, and the whole body
--- request eval
"POST $::AZURE/gpt-4o/chat/completions$::Q\n$::CHAT_STREAM"
--- more_headers
X-Test-Id: i4
X-Mock-Id: inc1
X-Mock-Events: 3
X-Mock-Delay-Ms: 5
X-Mock-Framing: length
Content-Type: application/json
--- response_headers
!Content-Length
Transfer-Encoding: chunked
--- response_body eval: $::REF{az}
--- error_log
llmgw-audit id=i4 status=200 api=chat outcome=ok stream=1 usage=provider in=3 out=3 total=6;



=== TEST 5: a stream delimited by the provider's close, in pieces of 13 bytes
--- request eval
"POST $::AZURE/gpt-4o/chat/completions$::Q\n$::CHAT_STREAM"
--- more_headers
X-Test-Id: i5
X-Mock-Id: inc1
X-Mock-Events: 3
X-Mock-Delay-Ms: 0
X-Mock-Split: 13
X-Mock-Split-Delay-Ms: 1
X-Mock-Framing: close
Content-Type: application/json
--- response_body eval: $::REF{az}
--- error_log
llmgw-audit id=i5 status=200 api=chat outcome=ok stream=1 usage=provider in=3 out=3 total=6;



=== TEST 6: OpenAI chat streamed
--- request eval
"POST /openai/v1/chat/completions\n$::OAI_STREAM"
--- more_headers
X-Test-Id: i6
X-Mock-Id: inc1
X-Mock-Events: 3
X-Mock-Delay-Ms: 0
X-Mock-Split: 5
Content-Type: application/json
--- response_body eval: $::REF{oai}
--- error_log
llmgw-audit id=i6 status=200 api=chat outcome=ok stream=1 usage=provider in=4 out=3 total=7;



=== TEST 7: Azure completions streamed
--- request eval
"POST $::AZURE/gpt-35/completions$::Q\n$::COMPLETIONS_STREAM"
--- more_headers
X-Test-Id: i7
X-Mock-Id: inc1
X-Mock-Events: 3
X-Mock-Delay-Ms: 0
Content-Type: application/json
--- response_body eval: $::REF{cmpl}
--- error_log
llmgw-audit id=i7 status=200 api=completions outcome=ok stream=1 usage=provider in=4 out=3 total=7;



=== TEST 8: the client asked for include_usage itself: everything passes unchanged
--- request eval
"POST $::AZURE/gpt-4o/chat/completions$::Q\n$::CHAT_STREAM_USAGE"
--- more_headers
X-Test-Id: i8
X-Mock-Id: inc1
X-Mock-Events: 3
X-Mock-Delay-Ms: 0
X-Mock-Split: 3
Content-Type: application/json
--- response_body eval: $::REF{az_usage}
--- error_log
llmgw-audit id=i8 status=200 api=chat outcome=ok stream=1 usage=provider in=3 out=3 total=6;



=== TEST 9: include_usage false: made true for billing, the client's stream as it asked
--- request eval
"POST $::AZURE/gpt-4o/chat/completions$::Q\n$::CHAT_STREAM_FALSE"
--- more_headers
X-Test-Id: i9
X-Mock-Id: inc1
X-Mock-Events: 3
X-Mock-Delay-Ms: 0
Content-Type: application/json
--- response_body eval: $::REF{az}
--- error_log
llmgw-audit id=i9 status=200 api=chat outcome=ok stream=1 usage=provider in=3 out=3 total=6;



=== TEST 10: llmgw_pass_include_usage off: the request unchanged, usage missing
--- request eval
"POST /azure-off/openai/deployments/gpt-4o/chat/completions$::Q\n$::CHAT_STREAM"
--- more_headers
X-Test-Id: i10
X-Mock-Id: inc1
X-Mock-Events: 3
X-Mock-Delay-Ms: 0
Content-Type: application/json
--- response_body eval: $::REF{az}
--- error_log
llmgw-audit id=i10 status=200 api=chat outcome=ok stream=1 usage=missing in=- out=- total=-;



=== TEST 11: stream_options null: left to the provider, usage missing
--- request eval
"POST $::AZURE/gpt-4o/chat/completions$::Q\n$::CHAT_STREAM_NULL"
--- more_headers
X-Test-Id: i11
X-Mock-Id: inc1
X-Mock-Events: 3
X-Mock-Delay-Ms: 0
Content-Type: application/json
--- response_body eval: $::REF{az}
--- error_log
llmgw-audit id=i11 status=200 api=chat outcome=ok stream=1 usage=missing in=- out=- total=-;



=== TEST 12: a request body in a temporary file is not rewritten
--- request eval
"POST /azure-file/openai/deployments/gpt-4o/chat/completions$::Q\n$::CHAT_STREAM"
--- more_headers
X-Test-Id: i12
X-Mock-Id: inc1
X-Mock-Events: 3
X-Mock-Delay-Ms: 0
Content-Type: application/json
--- response_body eval: $::REF{az}
--- error_log
llmgw-audit id=i12 status=200 api=chat outcome=ok stream=1 usage=missing in=- out=- total=-;



=== TEST 13: not streamed: untouched
--- request eval
"POST $::AZURE/gpt-4o/chat/completions$::Q\n$::CHAT"
--- more_headers
X-Test-Id: i13
X-Mock-Id: inc1
X-Mock-Events: 3
Content-Type: application/json
--- response_body eval: $::REF{az_plain}
--- error_log
llmgw-audit id=i13 status=200 api=chat outcome=ok stream=0 usage=provider in=3 out=3 total=6;



=== TEST 14: what the provider received: include_usage added (Content-Length fixed, the mock parsed it) only where it should be
--- request eval
["POST /mock/reset",
 "POST $::AZURE/gpt-4o/chat/completions$::Q\n$::CHAT_STREAM",
 "POST $::AZURE/gpt-4o/chat/completions$::Q\n$::CHAT_STREAM_FALSE",
 "POST $::AZURE/gpt-4o/chat/completions$::Q\n$::CHAT_STREAM_USAGE",
 "POST /azure-off/openai/deployments/gpt-4o/chat/completions$::Q\n$::CHAT_STREAM",
 "GET /mock/requests"]
--- more_headers
X-Mock-Events: 1
X-Mock-Delay-Ms: 0
Content-Type: application/json
--- response_body_like eval
[qr/"reset"/, (qr/data: \[DONE\]/) x 4,
 qr/\A\[\{.*"body_length": ${\(length($::CHAT_STREAM) + 40)},.*"stream_options": \{"include_usage": true\}.*\},\s*\{.*"body_length": ${\(length($::CHAT_STREAM_FALSE) - 1)},.*"stream_options": \{"include_usage": true\}.*\},\s*\{.*"body_length": ${\(length($::CHAT_STREAM_USAGE))},.*"stream_options": \{"include_usage": true\}.*\},\s*\{.*"body_length": ${\(length($::CHAT_STREAM))},.*"stream_options": null.*\}\]\s*\z/s]



=== TEST 15: an Azure api-version that predates stream_options: unchanged, usage missing
--- request eval
"POST $::AZURE/gpt-4o/chat/completions?api-version=2024-06-01\n$::CHAT_STREAM"
--- more_headers
X-Test-Id: i15
X-Mock-Id: inc1
X-Mock-Events: 3
X-Mock-Delay-Ms: 0
Content-Type: application/json
--- response_body eval: $::REF{az}
--- error_log
llmgw-audit id=i15 status=200 api=chat outcome=ok stream=1 usage=missing in=- out=- total=-;



=== TEST 16: what adding it there would give: the mock refuses stream_options as Azure does
--- request eval
"POST $::AZURE/gpt-4o/chat/completions?api-version=2024-06-01\n$::CHAT_STREAM_USAGE"
--- more_headers
X-Test-Id: i16
Content-Type: application/json
--- error_code: 400
--- response_body_like: "Unrecognized request argument supplied: stream_options"
--- error_log
llmgw-audit id=i16 status=400 api=chat outcome=http_error stream=0 usage=missing



=== TEST 17: the first Azure preview that knows stream_options
--- request eval
"POST $::AZURE/gpt-4o/chat/completions?api-version=2024-09-01-preview\n$::CHAT_STREAM"
--- more_headers
X-Test-Id: i17
X-Mock-Id: inc1
X-Mock-Events: 3
X-Mock-Delay-Ms: 0
X-Mock-Split: 2
Content-Type: application/json
--- response_body eval: $::REF{az}
--- error_log
llmgw-audit id=i17 status=200 api=chat outcome=ok stream=1 usage=provider in=3 out=3 total=6;
