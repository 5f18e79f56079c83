# llmgw_pass streaming: SSE (Azure, Gemini alt=sse) and AWS event-stream
# (Bedrock) reach the client as the provider sends them, not when the
# response is over; a stream the provider cuts short reaches the client cut
# short (no last chunk, fewer bytes than Content-Length, connection closed),
# never completed as if whole; an event-stream exception passes unchanged
# and marks the outcome.
#
# Timing and cut streams are checked by t/pass/PassClient.pm from the
# blocks' "--- init" (it runs once nginx is up), the rest by the blocks.

BEGIN { push @INC, 't/lib' }
use lib 't/pass';
use Test::Nginx::Socket;
use LLMGW::LogPhase;
use PassClient;

our $CHAT = '{"stream":true,"messages":[{"role":"user","content":"hi"}]}';
our $CONVERSE = '{"messages":[{"role":"user","content":[{"text":"hi"}]}]}';
our $INVOKE = '{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,'
              . '"messages":[{"role":"user","content":"hi"}]}';
our $GEMINI = '{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}';

our $AZURE = '/azure-openai/openai/deployments/gpt-4o/chat/completions'
             . '?api-version=2024-10-21';
our $MODEL = 'anthropic.claude-3-5-sonnet-20240620-v1%3A0';

if (!$ENV{TEST_NGINX_MOCK_PORT}) {
    plan(skip_all => 'no mock provider (t/run-tests.sh starts one)');

} else {
    repeat_each(2);
    plan tests => repeat_each() * 30 + 37;
}

log_level('info');
no_shuffle();

our $HttpConfig = <<'_EOC_';
    log_format llmgw_audit 'llmgw-audit id=$http_x_test_id status=$status '
                           'provider=$llmgw_provider model=$llmgw_model '
                           'outcome=$llmgw_upstream_outcome '
                           'stream=$llmgw_stream';
    access_log logs/error.log llmgw_audit;
_EOC_

our $Locations = <<'_EOC_';
    location = /mock/health {
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/__mock/health;
    }

    location /azure-openai/ {
        llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
        llmgw_provider azure_openai;
        llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;
    }

    location /bedrock-claude/ {
        llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
        llmgw_provider bedrock;
        llmgw_pass_host bedrock-runtime.us-east-1.amazonaws.com;
        llmgw_pass_aws_credentials file=$TEST_NGINX_MOCK_SECRETS/aws-credentials;
    }

    location /gemini/ {
        llmgw_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
        llmgw_provider gemini;
        llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/gemini.key;
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


my $seq = 0;

sub port {
    return $Test::Nginx::Util::ServerPortForClient
           || $Test::Nginx::Util::ServerPort;
}


sub audit {
    my ($id, $re) = @_;

    my $line = PassClient::wait_line($Test::Nginx::Util::ErrLogFile,
                                     qr/llmgw-audit id=$id /, 5);

    Test::More::like($line // '', $re, "audit line of $id");
}


# Frames of an AWS event-stream body: (count, the bytes left over).
sub es_frames {
    my ($s) = @_;

    my $n = 0;

    while (length($s) >= 12) {
        my $total = unpack 'N', $s;
        last if $total < 16 || length($s) < $total;
        $s = substr $s, $total;
        $n++;
    }

    return ($n, length $s);
}


# One streamed request; checks that the body came in bursts, the first
# long before the last: 5 tests.
sub streamed {
    my (%a) = @_;

    my $id = 'st' . ++$seq . "-$$";
    my $delay = $a{delay};

    my $r = PassClient::request(port => port(), path => $a{path},
                                body => $a{body},
                                headers => ["X-Test-Id: $id",
                                            "X-Mock-Delay-Ms: "
                                            . int($delay * 1000),
                                            "X-Mock-Events: $a{events}",
                                            "Content-Type: application/json",
                                            @{ $a{headers} // [] }]);

    my $b = $r->{bursts};

    Test::More::is($r->{status}, 200, "$a{name}: status");
    Test::More::ok($r->{complete} && $r->{framing} eq 'chunked',
                   "$a{name}: complete chunked body");
    Test::More::cmp_ok(scalar @$b, '>=', $a{frames} - 1,
                       "$a{name}: arrived in bursts (@$b)");
    Test::More::cmp_ok($b->[0] // 99, '<', $delay * 0.6,
                       "$a{name}: the first event before the second is sent");
    Test::More::cmp_ok(($b->[-1] // 0) - ($b->[0] // 0), '>=',
                       ($a{frames} - 2) * $delay * 0.8,
                       "$a{name}: the last event well after the first");

    return $r;
}


# One request the provider resets mid-stream; the client must see it cut:
# 5 tests (and the audit line: 1).
sub cut {
    my (%a) = @_;

    my $id = 'cut' . ++$seq . "-$$";

    my $r = PassClient::request(port => port(), path => $a{path},
                                body => $a{body},
                                headers => ["X-Test-Id: $id",
                                            "X-Mock-Fault: reset-mid-stream",
                                            "X-Mock-Delay-Ms: 100",
                                            "Content-Type: application/json",
                                            @{ $a{headers} // [] }]);

    Test::More::is($r->{status}, 200, "$a{name}: status");
    Test::More::is($r->{framing}, $a{framing}, "$a{name}: framing");
    Test::More::ok(!$r->{complete}, "$a{name}: not complete");
    Test::More::ok($r->{eof} && !$r->{timed_out},
                   "$a{name}: connection closed by the gateway");
    Test::More::like($r->{body} // '', $a{partial},
                     "$a{name}: what came before the cut");

    audit($id, qr/status=200 provider=\S+ model=\S+ outcome=stream_cut/);

    return $r;
}


run_tests();

__DATA__

=== TEST 1: Azure SSE stream: whole, re-chunked for the client, outcome ok
--- request eval
"POST $::AZURE\n$::CHAT"
--- more_headers
X-Test-Id: s1
X-Mock-Delay-Ms: 10
Content-Type: application/json
--- response_headers
Content-Type: text/event-stream; charset=utf-8
Transfer-Encoding: chunked
!Content-Length
--- response_body_like: \A(data: \{[^\n]*\}\n\n){9}data: \[DONE\]\n\n\z
--- error_log
llmgw-audit id=s1 status=200 provider=azure_openai model=gpt-4o outcome=ok stream=1



=== TEST 2: Azure SSE: each event reaches the client as the provider sends it
--- init
main::streamed(name => 'azure sse', path => $::AZURE, body => $::CHAT,
               delay => 0.6, events => 3, frames => 7);



=== TEST 3: Gemini alt=sse: each event reaches the client as it is sent
--- init
main::streamed(name => 'gemini sse',
               path => '/gemini/v1beta/models/gemini-2.0-flash:'
                       . 'streamGenerateContent?alt=sse',
               body => $::GEMINI, delay => 0.6, events => 5, frames => 5);



=== TEST 4: Bedrock converse-stream: event-stream messages arrive one by one, intact
--- init
my $r = main::streamed(name => 'bedrock converse-stream',
                       path => "/bedrock-claude/model/$::MODEL/converse-stream",
                       body => $::CONVERSE, delay => 0.6, events => 3,
                       frames => 7);
my ($n, $left) = main::es_frames($r->{body});
Test::More::is($r->{headers}{'content-type'},
               'application/vnd.amazon.eventstream', 'event-stream type');
Test::More::is("$n/$left", '7/0', 'seven whole event-stream messages');



=== TEST 5: Bedrock invoke-with-response-stream: whole, outcome ok
--- request eval
"POST /bedrock-claude/model/$::MODEL/invoke-with-response-stream\n$::INVOKE"
--- more_headers
X-Test-Id: s5
X-Mock-Delay-Ms: 10
Content-Type: application/json
--- response_headers
Content-Type: application/vnd.amazon.eventstream
--- response_body_like: :event-type\x07\x00\x05chunk.*"bytes":.*:event-type\x07\x00\x05chunk
--- error_log
llmgw-audit id=s5 status=200 provider=bedrock model=anthropic.claude-3-5-sonnet-20240620-v1:0 outcome=ok stream=1



=== TEST 6: Bedrock exception message: passed on unchanged, outcome stream_exception
--- request eval
"POST /bedrock-claude/model/$::MODEL/converse-stream\n$::CONVERSE"
--- more_headers
X-Test-Id: s6
X-Mock-Fault: exception
X-Mock-Delay-Ms: 10
Content-Type: application/json
--- response_body_like: :exception-type\x07\x00\x13throttlingException.*:message-type\x07\x00\x09exception\{"message": "Too many requests
--- error_log
upstream stream exception "throttlingException"
llmgw-audit id=s6 status=200 provider=bedrock model=anthropic.claude-3-5-sonnet-20240620-v1:0 outcome=stream_exception stream=1



=== TEST 7: Azure SSE reset mid-stream: the client's stream is cut, not completed
--- init
main::cut(name => 'azure sse reset', path => $::AZURE, body => $::CHAT,
          framing => 'chunked',
          partial => qr/\Adata: .*"content":"Hello"(?!.*\[DONE\])/s);



=== TEST 8: Bedrock converse-stream reset mid-stream: cut, not completed
--- init
my $r = main::cut(name => 'bedrock stream reset',
                  path => "/bedrock-claude/model/$::MODEL/converse-stream",
                  body => $::CONVERSE, framing => 'chunked',
                  partial => qr/:event-type\x07\x00\x0cmessageStart/);
my ($n, $left) = main::es_frames($r->{body});
Test::More::ok($n >= 1 && $n < 8, "some, not all, messages ($n)");



=== TEST 9: Bedrock invoke with Content-Length reset half-way: fewer bytes, closed
--- init
my $r = main::cut(name => 'bedrock invoke reset',
                  path => "/bedrock-claude/model/$::MODEL/invoke",
                  body => $::INVOKE, framing => 'length',
                  partial => qr/\A\{"id": "msg_bdrk_mock/);
Test::More::cmp_ok(length $r->{body}, '<', $r->{headers}{'content-length'},
                   'fewer bytes than Content-Length');



=== TEST 10: Gemini without alt=sse: the JSON array streamed element by element
--- request eval
"POST /gemini/v1beta/models/gemini-2.0-flash:streamGenerateContent\n$::GEMINI"
--- more_headers
X-Test-Id: s10
X-Mock-Delay-Ms: 10
Content-Type: application/json
--- response_headers
Content-Type: application/json; charset=UTF-8
--- response_body_like: \A\[\{.*"text": "Hello".*"text": "\.".*\}\]\z
--- error_log
llmgw-audit id=s10 status=200 provider=gemini model=gemini-2.0-flash outcome=ok stream=0
