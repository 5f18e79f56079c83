# llmgw_audit_body and llmgw_audit_redact: the request and response bodies
# in the audit line, captured up to max= and redacted, for each provider
# through the mock, streamed and not (a Bedrock event stream as text, its
# chunks' base64 decoded); truncated at max; left out by default; null for
# a body that was not read (a denial) or is not JSON; a body in a
# temporary file; hostile bodies (invalid UTF-8, deep nesting, a huge
# string) still give one valid JSON line; nothing redacted shows anywhere.
# Plain Test::More: the audit file read back and parsed.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use LLMGW::Test qw(:all);
use LLMGW::Nginx qw(:DEFAULT slurp);

for my $v (qw(TEST_NGINX_LOAD_MODULES TEST_NGINX_MOCK_PORT
              TEST_NGINX_MOCK_SECRETS))
{
    plan skip_all => "$v is not set (t/run-tests.sh sets it)"
        unless $ENV{$v};
}

my $keys = llmgw_keys_dir();
my $secrets = $ENV{TEST_NGINX_MOCK_SECRETS};
my $mock = "127.0.0.1:$ENV{TEST_NGINX_MOCK_PORT}";
my $dir = nginx_prefix();
my $port = free_port();
my $port2 = free_port();
my $log = "$dir/logs/audit.log";

# the recommended set of README, "llmgw_audit_redact"
my $REDACT = 'messages system systemInstruction instructions prompt input '
             . 'contents content parts text arguments partial_json output '
             . 'embedding';

my $auth = <<"_EOC_";
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
_EOC_

my $azure = <<"_EOC_";
            llmgw_provider azure_openai;
            llmgw_pass http://$mock;
            llmgw_pass_api_key file=$secrets/azure.key;
_EOC_

nginx_conf($dir, <<"_EOC_");
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;

    server {
        listen 127.0.0.1:$port;

        llmgw_audit $log;
        llmgw_audit_field t \$http_x_test;
        llmgw_audit_body both;
        llmgw_audit_redact $REDACT;

        location /azure-openai/ {
$auth
$azure
        }

        location /bedrock-claude/ {
            llmgw_provider bedrock;
            llmgw_pass http://$mock;
            llmgw_pass_host bedrock-runtime.us-east-1.amazonaws.com;
            llmgw_pass_aws_credentials file=$secrets/aws-credentials;
        }

        location /gemini/ {
            llmgw_provider gemini;
            llmgw_pass http://$mock;
            llmgw_pass_api_key file=$secrets/gemini.key;
        }

        location /raw/ {
            client_max_body_size 4m;
            llmgw_audit_redact off;
            llmgw_pass_strip_prefix /raw/azure-openai;
$azure
        }

        location /plain/ {
            llmgw_audit_redact off;
            llmgw_audit_body both max=64;
            llmgw_pass_strip_prefix /plain/azure-openai;
$azure
        }

        location /bedrock-small/ {
            llmgw_audit_redact off;
            llmgw_audit_body response max=200;
            llmgw_pass_strip_prefix /bedrock-small;
            llmgw_provider bedrock;
            llmgw_pass http://$mock;
            llmgw_pass_host bedrock-runtime.us-east-1.amazonaws.com;
            llmgw_pass_aws_credentials file=$secrets/aws-credentials;
        }

        location /file/ {
            client_body_buffer_size 16;
            llmgw_pass_strip_prefix /file/azure-openai;
$azure
        }

        location /hostile/ {
            client_max_body_size 4m;
            llmgw_pass_strip_prefix /hostile/azure-openai;
$azure
        }

        location /response/ {
            llmgw_audit_body response max=100;
            llmgw_pass_strip_prefix /response/azure-openai;
$azure
        }

        location /off/ {
            llmgw_audit_body off;
            llmgw_pass_strip_prefix /off/azure-openai;
$azure
        }
    }

    server {
        listen 127.0.0.1:$port2;

        llmgw_audit $dir/logs/default.log;

        location /azure-openai/ {
$azure
        }
    }
_EOC_

my $pid = nginx_start($dir, $port) or BAIL_OUT('nginx did not start');
wait_port($port2) or BAIL_OUT('nginx does not listen on its second port');
my $http = HTTP::Tiny->new(timeout => 10);
my $json = JSON::PP->new->utf8->canonical;
my $token = llmgw_token(sub => 'alice', scope => 'all');

my $AZ = '/azure-openai/openai/deployments/gpt-4o/chat/completions'
         . '?api-version=2024-10-21';
my $MODEL = 'anthropic.claude-3-5-sonnet-20240620-v1%3A0';
my $CHAT = '{"messages":[{"role":"user","content":"SECRET one two"}],'
           . '"max_tokens":5}';
my $STREAM = '{"stream":true,"messages":[{"role":"user",'
             . '"content":"SECRET one two"}]}';
my $INVOKE = '{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,'
             . '"system":"SECRET sys","messages":[{"role":"user",'
             . '"content":"SECRET hi"}]}';
my $CONVERSE = '{"messages":[{"role":"user","content":[{"text":'
               . '"SECRET a b"}]}],"inferenceConfig":{"maxTokens":9}}';
my $GEMINI = '{"contents":[{"role":"user","parts":[{"text":"SECRET p"}]}],'
             . '"generationConfig":{"temperature":0}}';

sub request {
    my ($path, $body, %h) = @_;
    my $p = delete $h{port} // $port;
    return $http->request('POST', "http://127.0.0.1:$p$path",
                          { headers => { 'Content-Type' => 'application/json',
                                         %h },
                            content => $body });
}

sub lines {
    my ($file) = @_;
    open my $fh, '<:raw', $file or return ();
    my @l = <$fh>;
    close $fh;
    return @l;
}

my %sent;

sub call {
    my ($t, $path, $body, %h) = @_;
    my $r = request($path, $body, 'X-Test' => $t, %h);
    $sent{$t} = $r;
    return $r;
}

my $HUGE = '{"prompt":"' . ('A' x 1000000) . '","n":1}';
my $DEEP = '[' x 100000;
my $BAD = "{\"prompt\":\"x\",\"a\":\"\xff\xfe\xc3(\",\"b\":\"\x01\\u0000\"}";

call('az', $AZ, $CHAT, Authorization => "Bearer $token");
call('az-stream', $AZ, $STREAM, Authorization => "Bearer $token",
     'X-Mock-Events' => 3, 'X-Mock-Id' => 'a1');
call('az-401', $AZ, $CHAT);
call('invoke', "/bedrock-claude/model/$MODEL/invoke", $INVOKE);
call('invoke-stream',
     "/bedrock-claude/model/$MODEL/invoke-with-response-stream",
     $INVOKE, 'X-Mock-Events' => 3);
call('converse', "/bedrock-claude/model/$MODEL/converse", $CONVERSE);
call('converse-stream', "/bedrock-claude/model/$MODEL/converse-stream",
     $CONVERSE, 'X-Mock-Events' => 3);
call('gemini', '/gemini/v1beta/models/gemini-2.0-flash:generateContent',
     $GEMINI);
call('gemini-sse', '/gemini/v1beta/models/gemini-2.0-flash:'
                   . 'streamGenerateContent?alt=sse', $GEMINI,
     'X-Mock-Events' => 3);
call('raw', "/raw$AZ", $CHAT, 'X-Mock-Id' => 'r1');
call('raw-stream', "/raw$AZ", $STREAM, 'X-Mock-Id' => 'r2',
     'X-Mock-Events' => 2);
call('plain', "/plain$AZ", $CHAT, 'X-Mock-Id' => 'p1');
call('bedrock-small',
     "/bedrock-small/model/$MODEL/invoke-with-response-stream",
     $INVOKE, 'X-Mock-Events' => 20);
call('file', "/file$AZ", $CHAT);
call('response', "/response$AZ", $CHAT);
call('off', "/off$AZ", $CHAT);
call('audio', "/raw$AZ", 'RIFF....WAVEfmt ', 'Content-Type' => 'audio/wav');
call('huge', "/hostile$AZ", $HUGE);
call('huge-raw', "/raw$AZ", $HUGE);
call('deep', "/hostile$AZ", $DEEP);
call('bad-utf8', "/raw$AZ", $BAD);
call('bad-utf8-r', "/hostile$AZ", $BAD);
request($AZ, $CHAT, port => $port2, 'X-Test' => 'default');

select(undef, undef, undef, 0.3);

my @l = lines($log);
my %by;

for my $i (0 .. $#l) {
    my $rec = eval { $json->decode($l[$i]) };
    ok($rec, "line " . ($i + 1) . " is JSON") or diag($l[$i]);
    like($l[$i], qr/\A[^\n]*\n\z/, "line " . ($i + 1) . " is one line");
    $by{$rec->{t}} = $rec if $rec;
}

is(scalar @l, scalar keys %sent, 'a line for every request');

my $all = join '', grep { !/"t":"(?:raw|plain|audio|huge-raw|bad-utf8)/ }
                   @l;
unlike($all, qr/SECRET|Hello|llmgw mock|AAAA/,
       'nothing redacted shows in the redacting locations');
unlike(join('', @l), qr/\Q$token\E|Bearer/, 'no token in any line');

for my $k (qw(azure.key gemini.key)) {
    open my $fh, '<', "$secrets/$k" or die "$k: $!";
    chomp(my $key = <$fh>);
    unlike(join('', @l), qr/\Q$key\E/, "the provider key $k is in no line");
}

# Azure OpenAI chat

my $a = $by{az};
is($a->{request_body}, '{"messages":"[redacted]","max_tokens":5}',
   'azure: request body, messages redacted');
is($a->{request_body_truncated}, JSON::PP::false,
   'azure: request body whole');
my $resp = $json->decode($a->{response_body});
is($resp->{choices}[0]{message}{content}, '[redacted]',
   'azure: the completion redacted');
is($resp->{choices}[0]{message}{role}, 'assistant', 'azure: role kept');
is_deeply($resp->{usage}, { prompt_tokens => 3, completion_tokens => 6,
                            total_tokens => 9 }, 'azure: usage kept');
is($a->{response_body_truncated}, JSON::PP::false,
   'azure: response body whole');

$a = $by{'az-stream'};
is($a->{request_body}, '{"stream":true,"messages":"[redacted]"}',
   'azure stream: the client\'s body, as it sent it');
my @ev = split /\n\n/, $a->{response_body};
is(scalar @ev, 8, 'azure stream: 8 events (filter, 3 pieces, stop, usage, '
                  . 'DONE)') or diag($a->{response_body});
is_deeply([ map { /"content":"([^"]*)"/ ? $1 : () } @ev ],
          [ ('[redacted]') x 4 ],
          'azure stream: each delta redacted (the role chunk\'s too)');
like($ev[6], qr/\Adata: \{.*"usage":\{"prompt_tokens":3,"completion_tokens":3,/,
     'azure stream: the usage chunk the gateway asked for is captured');
is($ev[7], 'data: [DONE]', 'azure stream: [DONE]');

# denied before the body was read: no capture

$a = $by{'az-401'};
ok(exists $a->{request_body} && !defined $a->{request_body}
   && exists $a->{response_body} && !defined $a->{response_body}
   && !defined $a->{request_body_truncated},
   '401: bodies null (not read, not called)');

# Bedrock

$a = $by{invoke};
is($a->{request_body}, '{"anthropic_version":"bedrock-2023-05-31",'
                       . '"max_tokens":64,"system":"[redacted]",'
                       . '"messages":"[redacted]"}',
   'invoke: system and messages redacted');
$resp = $json->decode($a->{response_body});
is($resp->{content}, '[redacted]', 'invoke: content redacted');
is_deeply($resp->{usage}, { input_tokens => 4, output_tokens => 6 },
          'invoke: usage kept');

$a = $by{'invoke-stream'};
@ev = split /\n\n/, $a->{response_body};
is(scalar @ev, 8, 'invoke stream: 8 events') or diag($a->{response_body});
is(scalar(grep { /\Aevent: chunk\ndata: \{/ } @ev), 8,
   'invoke stream: each an "event: chunk" with the decoded JSON as data');
is_deeply([ map { /"text_delta","text":"([^"]*)"/ ? $1 : () } @ev ],
          [ ('[redacted]') x 3 ], 'invoke stream: deltas redacted');
like($ev[7], qr/"amazon-bedrock-invocationMetrics":\{"inputTokenCount":4,/,
     'invoke stream: invocation metrics kept');

$a = $by{converse};
is($a->{request_body}, '{"messages":"[redacted]",'
                       . '"inferenceConfig":{"maxTokens":9}}',
   'converse: messages redacted');
is($json->decode($a->{response_body})->{output}, '[redacted]',
   'converse: output redacted');

$a = $by{'converse-stream'};
@ev = split /\n\n/, $a->{response_body};
is_deeply([ map { /\Aevent: (\w+)\n/ ? $1 : '?' } @ev ],
          [ qw(messageStart contentBlockDelta contentBlockDelta
               contentBlockDelta contentBlockStop messageStop metadata) ],
          'converse stream: one event per message, its :event-type');
is_deeply([ map { /"delta":\{"text":"([^"]*)"\}/ ? $1 : () } @ev ],
          [ ('[redacted]') x 3 ], 'converse stream: deltas redacted');
like($ev[6], qr/\Aevent: metadata\ndata: \{"usage":\{"inputTokens":3,/,
     'converse stream: metadata kept');

# Gemini

$a = $by{gemini};
is($a->{request_body}, '{"contents":"[redacted]",'
                       . '"generationConfig":{"temperature":0}}',
   'gemini: contents redacted');
$resp = $json->decode($a->{response_body});
is($resp->{candidates}[0]{content}, '[redacted]', 'gemini: content redacted');
is($resp->{usageMetadata}{totalTokenCount}, 8, 'gemini: usage kept');

$a = $by{'gemini-sse'};
@ev = split /\r\n\r\n/, $a->{response_body};
is(scalar @ev, 3, 'gemini sse: 3 events');
is_deeply([ map { /"candidates":\[\{"content":"([^"]*)"/ ? $1 : () } @ev ],
          [ ('[redacted]') x 3 ], 'gemini sse: each content redacted');

# no redaction, whole, and at max

$a = $by{raw};
is($a->{request_body}, $CHAT, 'raw: the request body as sent');
is($a->{response_body}, $sent{raw}{content},
   'raw: the response body as the client got it');

$a = $by{'raw-stream'};
like($a->{response_body}, qr/"usage":\{"prompt_tokens":/,
     'raw stream: the provider\'s bytes, usage chunk included');
unlike($sent{'raw-stream'}{content}, qr/"usage"/,
       'raw stream: which the client did not get');
like($a->{response_body}, qr/"content":"Hello"/,
     'raw stream: not redacted');

$a = $by{plain};
is($a->{request_body}, substr($CHAT, 0, 64), 'max=64: the request\'s first 64');
is($a->{request_body_truncated}, JSON::PP::true, 'max=64: request truncated');
is($a->{response_body}, substr($sent{plain}{content}, 0, 64),
   'max=64: the response\'s first 64');
is($a->{response_body_truncated}, JSON::PP::true, 'max=64: response truncated');

$a = $by{'bedrock-small'};
ok(length($a->{response_body}) <= 200 && length($a->{response_body}) >= 198,
   'max=200 on a Bedrock stream: 198 to 200 bytes (base64 quanta)')
    or diag(length $a->{response_body});
like($a->{response_body}, qr/\Aevent: chunk\ndata: \{"type":"message_start"/,
     'max=200 on a Bedrock stream: the first event');
is($a->{response_body_truncated}, JSON::PP::true,
   'max=200 on a Bedrock stream: truncated');
ok(!exists $a->{request_body}, 'response only: no request_body member');

$a = $by{file};
is($a->{request_body}, '{"messages":"[redacted]","max_tokens":5}',
   'a body in a temporary file: read from it');

$a = $by{response};
ok(!exists $a->{request_body} && !exists $a->{request_body_truncated},
   'llmgw_audit_body response: no request members');
is($a->{response_body_truncated}, JSON::PP::true,
   'llmgw_audit_body response max=100: the response\'s, truncated');
is(length $a->{response_body}, 100,
   'llmgw_audit_body response max=100: 100 bytes');

for my $t (qw(off default)) {
    $a = $by{$t} // {};
    ok(!grep({ exists $a->{$_} } qw(request_body request_body_truncated
                                    response_body response_body_truncated)),
       "$t: no body members")
        or diag(explain($a));
}

$a = $by{audio};
ok(exists $a->{request_body} && !defined $a->{request_body},
   'a body that is not JSON: null');

# hostile

$a = $by{huge};
is($a->{request_body}, '{"prompt":"[redacted]"',
   'huge string: redacted, cut inside');
is($a->{request_body_truncated}, JSON::PP::true, 'huge string: truncated');

$a = $by{'huge-raw'};
is($a->{request_body}, substr($HUGE, 0, 16384),
   'huge string, not redacted: the first 16k (the default max)');

$a = $by{deep};
is($a->{request_body}, ('[' x 64) . '"[redacted]"',
   'deep nesting: 64 levels, the rest redacted whole');

$a = $by{'bad-utf8'};
is($a->{request_body},
   "{\"prompt\":\"x\",\"a\":\"\x{fffd}\x{fffd}\x{fffd}(\","
   . "\"b\":\"\x{01}\\u0000\"}",
   'invalid UTF-8 replaced, control bytes escaped');

$a = $by{'bad-utf8-r'};
is($a->{request_body},
   "{\"prompt\":\"[redacted]\",\"a\":\"\x{fffd}\x{fffd}\x{fffd}(\","
   . "\"b\":\"\x{01}\\u0000\"}",
   'invalid UTF-8 and redaction');

nginx_stop($pid);

my @alerts = grep { /\[(alert|emerg|crit)\]/ }
             split /\n/, slurp("$dir/logs/error.log");
is_deeply(\@alerts, [], 'no alert');

done_testing();
