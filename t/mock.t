# t/mock.t: the mock provider t/mock/llmgw-mock checked on its own: each
# provider's wire format (JSON, SSE, AWS event-stream with its CRCs),
# credential checks and refusals, SigV4 verification (a botocore-signed
# request is accepted, tampered ones are refused), fault injection, the
# control and JWKS endpoints, bad input, and that its log holds no secret.
#
# A plain Test::More test: prove t/mock.t (starts its own mock).

use strict;
use warnings;

use Test::More;
use FindBin qw($Bin);
use File::Temp qw(tempdir);
use IO::Socket::IP;
use IO::Select;
use JSON::PP;
use MIME::Base64 qw(encode_base64 decode_base64);
use Digest::SHA qw(sha256_hex);
use Compress::Zlib qw(crc32);
use Time::HiRes qw(time sleep);
use Socket qw(SOL_SOCKET SO_REUSEADDR);
use POSIX qw(WNOHANG);
use lib "$Bin/lib";
use LLMGW::Nginx qw(free_port);

my $PY = '/usr/bin/python3';
my $MOCK = $ENV{LLMGW_MOCK_BIN} || "$Bin/mock/llmgw-mock";
my $CERTS_SH = "$Bin/mock/certs.sh";
my $SECRETS = "$Bin/mock/secrets";
my $DELAY = 40;
my $JSON = JSON::PP->new->utf8->canonical;

plan skip_all => "$PY not found" unless -x $PY;
plan skip_all => 'python3-botocore missing'
    if system($PY, '-c', 'import botocore') != 0;

sub slurp {
    my ($f) = @_;
    open my $fh, '<', $f or die "$f: $!";
    local $/;
    my $s = <$fh>;
    return $s;
}

sub secret {
    (my $v = slurp("$SECRETS/$_[0]")) =~ s/\s+\z//;
    return $v;
}

sub ini {
    my %h = slurp("$SECRETS/$_[0]") =~ /^\s*(\w+)\s*=\s*(\S+)\s*$/mg;
    return \%h;
}

my %KEY = map { $_ => secret("$_.key") } qw(azure gemini openai bedrock-api);
my $AWS = ini('aws-credentials');
my $AWS_S = ini('aws-credentials-session');
my @ALL_SECRETS = (values %KEY, $AWS->{aws_secret_access_key},
                   $AWS_S->{aws_secret_access_key},
                   $AWS_S->{aws_session_token});

my $JWT = 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9'
          . '.eyJzdWIiOiJhbGljZSIsInNjb3BlIjoidGV4dCJ9.c2lnbmF0dXJl';

my $tmp = tempdir('llmgw-mock-t.XXXXXX', TMPDIR => 1, CLEANUP => 1);

# --------------------------------------------------------------------------
# certs.sh

{
    my $d = "$tmp/certs";
    is(system($CERTS_SH, $d), 0, 'certs.sh creates a CA and server cert');
    ok(-s "$d/$_", "certs.sh: $_") for qw(ca.crt ca.key server.crt
                                         server.key);
    my $before = slurp("$d/server.crt");
    is(system($CERTS_SH, $d), 0, 'certs.sh runs again');
    is(slurp("$d/server.crt"), $before, 'certs.sh is idempotent');
    my $san = `openssl x509 -in $d/server.crt -noout -ext subjectAltName`;
    like($san, qr/DNS:localhost/, 'SAN localhost');
    like($san, qr/IP Address:127\.0\.0\.1/, 'SAN 127.0.0.1');
    like($san, qr/DNS:mock\.llmgw\.test/, 'SAN mock.llmgw.test');
    like(`openssl verify -CAfile $d/ca.crt $d/server.crt 2>&1`, qr/: OK$/m,
         'server cert verifies against the test CA');
    unlink "$d/server.key";
    is(system($CERTS_SH, $d), 0, 'certs.sh repairs a missing key');
    like(`openssl verify -CAfile $d/ca.crt $d/server.crt 2>&1`, qr/: OK$/m,
         'repaired server cert verifies');
}

# --------------------------------------------------------------------------
# start the mock

# free_port() of t/lib/LLMGW/Nginx.pm: two distinct ports, below the
# ephemeral range
my $PORT = free_port();
my $TLS_PORT = free_port();
my $JWKS0 = '{"keys":[{"kty":"oct","kid":"initial","k":"AAAA"}]}';
open my $jf, '>', "$tmp/jwks.json" or die;
print $jf $JWKS0;
close $jf;

my $LOG = "$tmp/mock.log";
my $pid = fork();
die "fork: $!" unless defined $pid;
if ($pid == 0) {
    open STDERR, '>', $LOG or die;
    open STDOUT, '>', '/dev/null' or die;
    exec $MOCK, '--port', $PORT, '--tls-port', $TLS_PORT,
        '--certs', "$tmp/certs", '--secrets', $SECRETS,
        '--delay-ms', $DELAY, '--jwks', "$tmp/jwks.json"
        or die "exec: $!";
}

END {
    if ($pid) {
        kill 'TERM', $pid;
        waitpid($pid, 0);
    }
}

# --------------------------------------------------------------------------
# a small HTTP/1.1 client with byte-level control and arrival times

# Reads from $sock until EOF, error or $timeout; returns
# ([ [time, bytes], ... ], how it ended: 'eof', 'error' or 'timeout').
sub read_all {
    my ($sock, $timeout, $stop) = @_;
    my @reads;
    my $sel = IO::Select->new($sock);
    my $end = time + $timeout;
    my $acc = '';
    while (1) {
        my $left = $end - time;
        return (\@reads, 'timeout') if $left <= 0;
        next unless $sel->can_read($left);
        my $n = sysread($sock, my $buf, 65536);
        return (\@reads, 'error') unless defined $n;
        return (\@reads, 'eof') if $n == 0;
        push @reads, [time, $buf];
        $acc .= $buf;
        return (\@reads, 'done') if $stop && $stop->($acc);
    }
}

# Parses a raw response; chunk times from the reads that completed them.
sub parse_response {
    my ($reads, $end, $head_only) = @_;
    my $raw = join '', map { $_->[1] } @$reads;
    my @ends;
    my $off = 0;
    for (@$reads) {
        $off += length $_->[1];
        push @ends, [$off, $_->[0]];
    }
    my $time_at = sub {
        my ($o) = @_;
        for (@ends) { return $_->[1] if $_->[0] >= $o }
        return undef;
    };
    my %r = (raw => $raw, end => $end, complete => 0, chunks => [],
             headers => {});
    my $he = index($raw, "\r\n\r\n");
    return \%r if $he < 0;
    my @lines = split /\r\n/, substr($raw, 0, $he);
    my $status_line = shift @lines;
    ($r{version}, $r{status}) = $status_line =~ m{^(HTTP/\d\.\d) (\d{3})};
    $r{header_time} = $time_at->($he + 4);
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/;
        next unless defined $k;
        push @{ $r{headers}{lc $k} }, $v;
    }
    my $pos = $he + 4;
    my $body = '';
    if ($head_only) {
        $r{complete} = 1;

    } elsif (($r{headers}{'transfer-encoding'}[0] // '') =~ /chunked/i) {
        while (1) {
            my $le = index($raw, "\r\n", $pos);
            last if $le < 0;
            my $size = hex substr($raw, $pos, $le - $pos);
            if ($size == 0) {
                $r{complete} = substr($raw, $le, 4) eq "\r\n\r\n" ? 1 : 0;
                last;
            }
            last if length($raw) < $le + 2 + $size + 2;
            my $data = substr($raw, $le + 2, $size);
            push @{ $r{chunks} }, [$time_at->($le + 2 + $size), $data];
            $body .= $data;
            $pos = $le + 2 + $size + 2;
        }

    } elsif (defined $r{headers}{'content-length'}) {
        my $len = $r{headers}{'content-length'}[0];
        $body = substr($raw, $pos, $len);
        $r{complete} = length($body) == $len ? 1 : 0;

    } else {
        $body = substr($raw, $pos);
        $r{complete} = $end eq 'eof' ? 1 : 0;
    }
    $r{body} = $body;
    $r{h} = { map { $_ => $r{headers}{$_}[0] } keys %{ $r{headers} } };
    return \%r;
}

sub connect_mock {
    my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1', PeerPort => $PORT,
                                Timeout => 5);
    die "connect: $!" unless $s;
    return $s;
}

# req(METHOD, PATH, [headers], BODY, %opt): one request, Connection: close
sub req {
    my ($method, $path, $headers, $body, %opt) = @_;
    $body //= '';
    my $s = connect_mock();
    my $msg = "$method $path " . ($opt{version} // 'HTTP/1.1') . "\r\n"
              . "Host: " . ($opt{host} // "127.0.0.1:$PORT") . "\r\n";
    my @h = @{ $headers // [] };
    while (my ($k, $v) = splice @h, 0, 2) {
        $msg .= "$k: $v\r\n";
    }
    $msg .= "Content-Length: " . length($body) . "\r\n"
        unless $opt{no_length};
    $msg .= "Connection: close\r\n\r\n" . $body;
    my $t0 = time;
    syswrite($s, $msg) == length($msg) or die "write: $!";
    my ($reads, $end) = read_all($s, $opt{timeout} // 10);
    close $s;
    my $r = parse_response($reads, $end, $method eq 'HEAD');
    $r->{t0} = $t0;
    return $r;
}

sub jbody {
    my ($r) = @_;
    my $v = eval { $JSON->decode($r->{body}) };
    return $v;
}

sub post_json {
    my ($path, $headers, $obj, %opt) = @_;
    return req('POST', $path, [ 'Content-Type' => 'application/json',
                                @{ $headers // [] } ],
               ref $obj ? $JSON->encode($obj) : $obj, %opt);
}

sub records {
    my ($q) = @_;
    my $r = req('GET', '/__mock/requests' . ($q // ''));
    return $JSON->decode($r->{body});
}

# the mock sets a record's status, end and outcome after the last byte of
# its response has gone: wait (up to 5 s) until the last one has its end
sub last_record {
    my $l;
    for (1 .. 100) {
        $l = records();
        last if !@$l || defined $l->[-1]{end};
        sleep 0.05;
    }
    return $l->[-1];
}

# wait for the mock
{
    my $up = 0;
    for (1 .. 100) {
        my $s = IO::Socket::IP->new(PeerHost => '127.0.0.1',
                                    PeerPort => $PORT);
        if ($s) { close $s; $up = 1; last }
        last if waitpid($pid, WNOHANG) == $pid;
        sleep 0.1;
    }
    ok($up, 'mock listens') or BAIL_OUT('the mock did not start: '
                                        . (-s $LOG ? slurp($LOG) : ''));
}

my $r = req('GET', '/__mock/health');
is($r->{status}, 200, 'health 200');
is(jbody($r)->{status}, 'ok', 'health ok');

# --------------------------------------------------------------------------
# Azure OpenAI

my $AZ = '/openai/deployments/gpt-4o';
my $AV = '?api-version=2024-10-21';
my @AZK = ('api-key' => $KEY{azure});
my $CHAT = { messages => [ { role => 'system', content => 'Be terse.' },
                           { role => 'user', content => 'hello there' } ] };

$r = post_json("$AZ/chat/completions$AV", \@AZK, $CHAT);
is($r->{status}, 200, 'azure chat 200');
my $j = jbody($r);
is($j->{object}, 'chat.completion', 'azure chat object');
is($j->{choices}[0]{message}{content}, 'Hello from the llmgw mock.',
   'azure chat content');
is_deeply($j->{usage}, { prompt_tokens => 4, completion_tokens => 6,
                         total_tokens => 10 }, 'azure chat usage');
ok($j->{prompt_filter_results}, 'azure prompt_filter_results');
is($j->{model}, 'gpt-4o', 'model defaults to the deployment');

# SSE parsing: list of data payloads
sub sse_events {
    my ($body, $sep) = @_;
    $sep //= "\n\n";
    my @ev;
    for my $block (split /\Q$sep\E/, $body) {
        next unless length $block;
        my ($d) = $block =~ /^data: (.*)\z/s;
        return undef unless defined $d;
        push @ev, $d;
    }
    return \@ev;
}

$r = post_json("$AZ/chat/completions$AV", \@AZK,
               { %$CHAT, stream => JSON::PP::true,
                 stream_options => { include_usage => JSON::PP::true } });
is($r->{status}, 200, 'azure stream 200');
like($r->{h}{'content-type'}, qr{^text/event-stream}, 'SSE content type');
ok($r->{complete}, 'azure stream ends with the last chunk');
my $ev = sse_events($r->{body});
ok($ev && @$ev == 11, 'azure stream: filter, role, 6 content, stop, usage, '
   . 'DONE') or diag explain $ev;
is($ev->[-1], '[DONE]', 'stream ends with data: [DONE]');
my @ch = map { $JSON->decode($_) } @$ev[0 .. $#$ev - 1];
is_deeply($ch[0]{choices}, [], 'first Azure chunk: prompt filter results');
is(join('', map { $_->{choices}[0]{delta}{content} // '' }
        grep { @{ $_->{choices} } } @ch),
   'Hello from the llmgw mock.', 'streamed content');
is($ch[-2]{choices}[0]{finish_reason}, 'stop', 'finish_reason chunk');
is_deeply($ch[-1]{usage}, { prompt_tokens => 4, completion_tokens => 6,
                            total_tokens => 10 }, 'include_usage honoured');
my @cs = @{ $r->{chunks} };
my $span = $cs[-1][0] - $cs[0][0];
cmp_ok($span, '>=', 8 * $DELAY / 1000 * 0.8,
       "events spread over time (${span}s)");
my $rec = last_record();
is(scalar @{ $rec->{events} }, 11, 'mock recorded 11 event writes');
cmp_ok($rec->{events}[-1] - $rec->{events}[0], '>=',
       9 * $DELAY / 1000 * 0.9, 'recorded write times are delays apart');

$r = post_json("$AZ/chat/completions$AV", \@AZK,
               { %$CHAT, stream => JSON::PP::true });
$ev = sse_events($r->{body});
is(scalar @$ev, 10, 'no usage chunk without include_usage');
unlike($r->{body}, qr/"usage"/, 'no usage field without include_usage');
is(last_record()->{stream_options}, undef,
   'the record: no stream_options sent');

# include_usage's other mark: "usage":null ends every other chunk
$r = post_json("$AZ/chat/completions$AV", [ @AZK, 'x-mock-delay-ms' => 0 ],
               { %$CHAT, stream => JSON::PP::true,
                 stream_options => { include_usage => JSON::PP::true } });
$ev = sse_events($r->{body});
is(scalar(grep { /,"usage":null\}\z/ } @$ev), 8,
   'include_usage: "usage":null ends the role, content and stop chunks');
ok(last_record()->{stream_options}{include_usage},
   'the record keeps stream_options');

# Azure before api-version 2024-10-21 (2024-09-01-preview) refuses it
$r = post_json("$AZ/chat/completions?api-version=2024-06-01", [ @AZK ],
               { %$CHAT, stream => JSON::PP::true,
                 stream_options => { include_usage => JSON::PP::true } });
ok($r->{status} == 400 && jbody($r)->{error}{message}
   eq 'Unrecognized request argument supplied: stream_options',
   'Azure 2024-06-01: stream_options refused with 400');
$r = post_json("$AZ/chat/completions?api-version=2024-09-01-preview",
               [ @AZK, 'x-mock-delay-ms' => 0 ],
               { %$CHAT, stream => JSON::PP::true,
                 stream_options => { include_usage => JSON::PP::true } });
is($r->{status}, 200, 'Azure 2024-09-01-preview: stream_options taken');

# x-mock-id: the same bytes twice; x-mock-split and x-mock-framing change
# the framing only
my @fixed = (@AZK, 'x-mock-id' => 'same1', 'x-mock-delay-ms' => 0);
my $stream = { %$CHAT, stream => JSON::PP::true };
my $a1 = post_json("$AZ/chat/completions$AV", [ @fixed ], $stream);
my $a2 = post_json("$AZ/chat/completions$AV", [ @fixed ], $stream);
ok($a1->{body} eq $a2->{body} && $a1->{body} =~ /"id":"chatcmpl-same1",/
   && $a1->{body} =~ /"created":1700000000,/,
   'x-mock-id: id and created fixed, the same bytes twice');

$r = post_json("$AZ/chat/completions$AV", [ @fixed, 'x-mock-split' => 5 ],
               $stream);
is($r->{body}, $a1->{body}, 'x-mock-split: the same body');
ok(@{ $r->{chunks} } > length($a1->{body}) / 5
   && !grep({ length($_->[1]) > 5 } @{ $r->{chunks} }),
   'x-mock-split 5: chunks of at most 5 bytes');

$r = post_json("$AZ/chat/completions$AV",
               [ @fixed, 'x-mock-framing' => 'length' ], $stream);
ok($r->{complete} && $r->{body} eq $a1->{body}
   && $r->{h}{'content-length'} == length($a1->{body})
   && !defined $r->{h}{'transfer-encoding'},
   'x-mock-framing length: Content-Length, the same body');

$r = post_json("$AZ/chat/completions$AV",
               [ @fixed, 'x-mock-framing' => 'close' ], $stream);
ok($r->{complete} && $r->{body} eq $a1->{body}
   && !defined $r->{h}{'content-length'}
   && !defined $r->{h}{'transfer-encoding'}
   && lc($r->{h}{connection} // '') eq 'close',
   'x-mock-framing close: delimited by the close, the same body');

$r = post_json("$AZ/chat/completions$AV", [ 'x-mock-events' => 2 ], $CHAT);
is($r->{status}, 401, 'no api-key: 401');
is(jbody($r)->{error}{code}, '401', 'Azure error shape');
like(jbody($r)->{error}{message}, qr/missing subscription key/,
     'missing key message');
$r = post_json("$AZ/chat/completions$AV", [ 'api-key' => 'nope' ], $CHAT);
is($r->{status}, 401, 'wrong api-key: 401');
like(jbody($r)->{error}{message}, qr/invalid subscription key/,
     'invalid key message');
is(last_record()->{auth}{verdict}, 'invalid', 'recorded verdict invalid');

$r = post_json("$AZ/chat/completions$AV", [ 'api-key' => $JWT ], $CHAT);
is($r->{status}, 400, 'JWT as api-key: 400');
like($r->{body}, qr/header api-key/, 'refusal names the header');
unlike($r->{body}, qr/eyJ/, 'refusal does not echo the token');
is(last_record()->{jwt_in}, 'header api-key', 'recorded jwt_in');

$r = post_json("$AZ/chat/completions$AV",
               [ @AZK, 'X-Forwarded-Token' => "Bearer $JWT" ], $CHAT);
is($r->{status}, 400, 'JWT in any header: 400');
like($r->{body}, qr/header x-forwarded-token/, 'names that header');

$r = post_json("$AZ/chat/completions$AV&access_token=$JWT", \@AZK, $CHAT);
is($r->{status}, 400, 'JWT in the query: 400');
like($r->{body}, qr/query parameter access_token/, 'names the parameter');
unlike($r->{body}, qr/eyJ/, 'does not echo it');

$r = post_json("$AZ/chat/completions", \@AZK, $CHAT);
is($r->{status}, 404, 'no api-version: 404 as Azure does');

$r = post_json("$AZ/chat/completions$AV", \@AZK, '{"messages": [');
is($r->{status}, 400, 'broken JSON: 400');
is(ref jbody($r)->{error}, 'HASH', 'broken JSON: error object');

$r = post_json("$AZ/completions$AV", \@AZK, { prompt => 'one two three' });
is($r->{status}, 200, 'completions 200');
is(jbody($r)->{choices}[0]{text}, 'Hello from the llmgw mock.',
   'completions text');
is(jbody($r)->{usage}{prompt_tokens}, 3, 'completions usage');

$r = post_json("$AZ/embeddings$AV", \@AZK,
               { input => [ 'a b', 'c' ], dimensions => 4 });
is($r->{status}, 200, 'embeddings 200');
$j = jbody($r);
is(scalar @{ $j->{data} }, 2, 'one embedding per input');
is(scalar @{ $j->{data}[0]{embedding} }, 4, 'dimensions honoured');
my @float = @{ $j->{data}[0]{embedding} };
$r = post_json("$AZ/embeddings$AV", \@AZK,
               { input => [ 'a b', 'c' ], dimensions => 4,
                 encoding_format => 'base64' });
my @b64 = unpack('f<4', decode_base64(jbody($r)->{data}[0]{embedding}));
ok(!grep({ abs($float[$_] - $b64[$_]) > 1e-6 } 0 .. 3),
   'base64 embedding = float32 LE of the float one');

# multipart upload
{
    my $wav = 'RIFF' . pack('V', 36 + 200000) . 'WAVEfmt '
              . pack('VvvVVvv', 16, 1, 1, 16000, 32000, 2, 16)
              . 'data' . pack('V', 200000)
              . join('', map { chr($_ % 251) } 1 .. 200000);
    my $b = 'llmgwBoundary7MA4YWxk';
    my $body = "--$b\r\nContent-Disposition: form-data; name=\"model\"\r\n"
        . "\r\nwhisper\r\n"
        . "--$b\r\nContent-Disposition: form-data; name=\"file\"; "
        . "filename=\"t est.wav\"\r\nContent-Type: audio/wav\r\n\r\n$wav\r\n"
        . "--$b\r\nContent-Disposition: form-data; "
        . "name=\"response_format\"\r\n\r\nverbose_json\r\n--$b--\r\n";
    $r = req('POST', "/openai/deployments/whisper/audio/transcriptions$AV",
             [ @AZK, 'Content-Type' => "multipart/form-data; boundary=$b" ],
             $body);
    is($r->{status}, 200, 'transcription 200');
    $j = jbody($r);
    is($j->{text}, 'llmgw-mock transcription of t est.wav: '
       . length($wav) . ' bytes, sha256 ' . sha256_hex($wav),
       'transcription names the upload, its size and digest');
    ok(abs($j->{duration} - 200000 / 32000) < 1e-6, 'WAV duration parsed');
    is(last_record()->{upload}{size}, length $wav, 'recorded upload size');

    $r = req('POST', "/openai/deployments/whisper/audio/transcriptions$AV",
             [ @AZK, 'Content-Type' => "multipart/form-data; boundary=$b" ],
             substr($body, 0, 1000));
    is($r->{status}, 400, 'truncated multipart: 400');
}

$r = post_json("/openai/deployments/tts/audio/speech$AV", \@AZK,
               { model => 'tts', voice => 'alloy', input => 'x' x 40,
                 response_format => 'wav' });
is($r->{status}, 200, 'speech 200');
is($r->{h}{'content-type'}, 'audio/wav', 'speech content type');
is(substr($r->{body}, 0, 4), 'RIFF', 'speech is a WAV');
is(length $r->{body}, 44 + 2 * int((0.2 + 0.02 * 40) * 16000),
   'speech length follows the input length');
is(unpack('V', substr($r->{body}, 4, 4)), length($r->{body}) - 8,
   'RIFF size field');

# --------------------------------------------------------------------------
# OpenAI-compatible

$r = post_json('/v1/chat/completions',
               [ Authorization => "Bearer $KEY{openai}" ],
               { model => 'gpt-4o-mini', %$CHAT });
is($r->{status}, 200, 'openai chat 200');
is(jbody($r)->{model}, 'gpt-4o-mini', 'openai model echoed');
ok(!exists jbody($r)->{prompt_filter_results}, 'no Azure filter results');
$r = post_json('/v1/chat/completions', [ Authorization => 'Bearer sk-x' ],
               $CHAT);
is($r->{status}, 401, 'openai wrong key 401');
is(jbody($r)->{error}{code}, 'invalid_api_key', 'OpenAI error shape');
$r = post_json('/v1/chat/completions', [ 'api-key' => $KEY{openai} ],
               $CHAT);
is($r->{status}, 401, 'openai wants a bearer key');

# --------------------------------------------------------------------------
# Bedrock

my $MID = 'anthropic.claude-3-5-sonnet-20240620-v1%3A0';
my $INVOKE = { anthropic_version => 'bedrock-2023-05-31', max_tokens => 64,
               messages => [ { role => 'user', content => 'hi you' } ] };
my $CONVERSE = { messages => [ { role => 'user',
                                 content => [ { text => 'hi you' } ] } ] };
my @BR = (Authorization => "Bearer $KEY{'bedrock-api'}");

$r = post_json("/model/$MID/invoke", \@BR, $INVOKE);
is($r->{status}, 200, 'bedrock invoke 200');
$j = jbody($r);
is($j->{type}, 'message', 'Anthropic message');
is($j->{content}[0]{text}, 'Hello from the llmgw mock.', 'invoke text');
is_deeply($j->{usage}, { input_tokens => 2, output_tokens => 6 },
          'invoke usage');
is($r->{h}{'x-amzn-bedrock-input-token-count'}, 2, 'token count headers');
$rec = last_record();
is($rec->{model}, 'anthropic.claude-3-5-sonnet-20240620-v1:0',
   'model id decoded in the record');
is($rec->{path}, "/model/$MID/invoke", 'raw path recorded');

$r = post_json("/model/$MID/converse", \@BR, $CONVERSE);
is($r->{status}, 200, 'converse 200');
is(jbody($r)->{output}{message}{content}[0]{text},
   'Hello from the llmgw mock.', 'converse text');
is_deeply(jbody($r)->{usage}, { inputTokens => 2, outputTokens => 6,
                                totalTokens => 8 }, 'converse usage');

$r = post_json("/model/$MID/converse", [], $CONVERSE);
is($r->{status}, 403, 'bedrock without credential 403');
is($r->{h}{'x-amzn-errortype'}, 'MissingAuthenticationTokenException',
   'x-amzn-ErrorType');
ok(exists jbody($r)->{message}, 'Bedrock error body {"message"}');
$r = post_json("/model/$MID/converse",
               [ Authorization => 'Bearer ABSKwrong' ], $CONVERSE);
is($r->{status}, 403, 'wrong Bedrock API key 403');
is($r->{h}{'x-amzn-errortype'}, 'UnrecognizedClientException',
   'wrong key error type');
$r = post_json("/model/$MID/converse", [ Authorization => "Bearer $JWT" ],
               $CONVERSE);
is($r->{status}, 400, 'JWT as Bedrock bearer: 400');
like($r->{body}, qr/header authorization/, 'names authorization');
$r = post_json("/model/$MID/invoke", \@BR, { messages => [] });
is($r->{status}, 400, 'invalid Anthropic body 400');
is($r->{h}{'x-amzn-errortype'}, 'ValidationException', 'ValidationException');

# event-stream: frames with CRCs checked here, independently of the mock
sub es_parse {
    my ($buf) = @_;
    my @msgs;
    my $pos = 0;
    while ($pos < length $buf) {
        return (\@msgs, 'short prelude') if length($buf) - $pos < 12;
        my ($total, $hlen, $pcrc) = unpack('NNN', substr($buf, $pos, 12));
        return (\@msgs, 'prelude crc')
            if crc32(substr($buf, $pos, 8)) != $pcrc;
        return (\@msgs, 'short message') if length($buf) - $pos < $total;
        my $m = substr($buf, $pos, $total);
        return (\@msgs, 'message crc')
            if crc32(substr($m, 0, $total - 4))
               != unpack('N', substr($m, $total - 4));
        my %h;
        my $hp = 12;
        while ($hp < 12 + $hlen) {
            my $nl = ord substr($m, $hp, 1);
            my $name = substr($m, $hp + 1, $nl);
            my $type = ord substr($m, $hp + 1 + $nl, 1);
            return (\@msgs, "header type $type") if $type != 7;
            my $vl = unpack('n', substr($m, $hp + 2 + $nl, 2));
            $h{$name} = substr($m, $hp + 4 + $nl, $vl);
            $hp += 4 + $nl + $vl;
        }
        push @msgs, { headers => \%h,
                      payload => substr($m, 12 + $hlen,
                                        $total - 16 - $hlen) };
        $pos += $total;
    }
    return (\@msgs, undef);
}

$r = post_json("/model/$MID/invoke-with-response-stream", \@BR, $INVOKE);
is($r->{status}, 200, 'invoke stream 200');
is($r->{h}{'content-type'}, 'application/vnd.amazon.eventstream',
   'event-stream content type');
ok($r->{complete}, 'invoke stream complete');
my ($msgs, $err) = es_parse($r->{body});
is($err, undef, 'every prelude and message CRC32 is right');
is(scalar @$msgs, 11, '11 chunk events');
ok(!grep({ $_->{headers}{':event-type'} ne 'chunk'
           || $_->{headers}{':message-type'} ne 'event'
           || $_->{headers}{':content-type'} ne 'application/json' } @$msgs),
   'headers :event-type chunk, :message-type event, :content-type json');
my @an = map { $JSON->decode(decode_base64($JSON->decode($_->{payload})
                                           ->{bytes})) } @$msgs;
is_deeply([ map { $_->{type} } @an ],
          [ 'message_start', 'content_block_start',
            ('content_block_delta') x 6, 'content_block_stop',
            'message_delta', 'message_stop' ], 'Anthropic stream events');
is(join('', map { $_->{delta}{text} // '' } @an[2 .. 7]),
   'Hello from the llmgw mock.', 'streamed text');
is($an[-1]{'amazon-bedrock-invocationMetrics'}{outputTokenCount}, 6,
   'invocation metrics in message_stop');
@cs = @{ $r->{chunks} };
cmp_ok($cs[-1][0] - $cs[0][0], '>=', 10 * $DELAY / 1000 * 0.8,
       'event-stream frames spread over time');

$r = post_json("/model/$MID/converse-stream", \@BR, $CONVERSE);
($msgs, $err) = es_parse($r->{body});
is($err, undef, 'converse-stream CRCs');
is_deeply([ map { $_->{headers}{':event-type'} } @$msgs ],
          [ 'messageStart', ('contentBlockDelta') x 6, 'contentBlockStop',
            'messageStop', 'metadata' ], 'converse-stream event types');
is_deeply($JSON->decode($msgs->[-1]{payload})->{usage},
          { inputTokens => 2, outputTokens => 6, totalTokens => 8 },
          'metadata usage');

# a corrupted frame is caught by the parser above (the check can fail)
{
    my $bad = $r->{body};
    substr($bad, 20, 1) = chr(ord(substr($bad, 20, 1)) ^ 1);
    my (undef, $e) = es_parse($bad);
    ok(defined $e, "flipped bit detected ($e)");
}

$r = post_json("/model/$MID/converse-stream",
               [ @BR, 'x-mock-fault' => 'exception' ], $CONVERSE);
ok($r->{complete}, 'exception fault: the stream ends cleanly');
($msgs, $err) = es_parse($r->{body});
is($err, undef, 'exception fault: CRCs');
is($msgs->[-1]{headers}{':message-type'}, 'exception',
   'last frame :message-type exception');
is($msgs->[-1]{headers}{':exception-type'}, 'throttlingException',
   ':exception-type throttlingException');
ok(@$msgs > 1 && @$msgs < 10, 'exception after some events');

$r = post_json("/model/$MID/invoke-with-response-stream",
               [ @BR, 'x-mock-fault' => 'exception' ], $INVOKE);
($msgs) = es_parse($r->{body});
is($msgs->[-1]{headers}{':exception-type'}, 'throttlingException',
   'invoke stream exception frame');

# --------------------------------------------------------------------------
# SigV4, signed by botocore in a helper process

my $SIGNER = <<'PY';
import base64, json, sys
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
a = json.load(sys.stdin)
req = AWSRequest(method=a['method'], url=a['url'],
                 data=base64.b64decode(a['body']), headers=a['headers'])
auth = SigV4Auth(Credentials(a['akid'], a['secret'], a.get('token')),
                 'bedrock', a['region'])
if a.get('timestamp'):
    # add_auth() with a chosen X-Amz-Date instead of now
    req.context['timestamp'] = a['timestamp']
    auth._modify_request_before_signing(req)
    sts = auth.string_to_sign(req, auth.canonical_request(req))
    auth._inject_signature_to_request(req, auth.signature(sts, req))
else:
    auth.add_auth(req)
print(json.dumps(dict(req.headers.items())))
PY

sub sigv4_headers {
    my (%a) = @_;
    my $in = $JSON->encode({
        method => 'POST',
        url => 'http://' . ($a{host} // "127.0.0.1:$PORT") . $a{path},
        body => encode_base64($a{body}, ''),
        headers => $a{headers} // {},
        akid => $a{cred}{aws_access_key_id},
        secret => $a{cred}{aws_secret_access_key},
        token => $a{cred}{aws_session_token},
        region => $a{region} // 'us-east-1',
        timestamp => $a{timestamp} });
    my $inf = "$tmp/sign.json";
    open my $fh, '>', $inf or die;
    print $fh $in;
    close $fh;
    if (!-e "$tmp/sign.py") {
        open my $py, '>', "$tmp/sign.py" or die;
        print $py $SIGNER;
        close $py;
    }
    my $out = `$PY $tmp/sign.py < $inf`;
    die "signer failed" if $?;
    my $h = $JSON->decode($out);
    return [ map { $_ => $h->{$_} } sort keys %$h ];
}

sub signed_post {
    my (%a) = @_;
    my $h = sigv4_headers(%a);
    my $body = $a{send_body} // $a{body};
    my @h = @$h;
    if ($a{edit}) { $a{edit}->(\@h) }
    return req('POST', $a{send_path} // $a{path}, \@h, $body,
               host => $a{host});
}

my $CBODY = $JSON->encode($CONVERSE);
my $SHA = sha256_hex($CBODY);
my %base = (path => "/model/$MID/converse", body => $CBODY,
            headers => { 'Content-Type' => 'application/json',
                         'X-Amz-Content-SHA256' => $SHA });

$r = signed_post(%base, cred => $AWS);
is($r->{status}, 200, 'botocore-signed request accepted') or diag $r->{body};
$rec = last_record();
is($rec->{auth}{verdict}, 'ok', 'sigv4 verdict ok');
is($rec->{auth}{scheme}, 'sigv4', 'scheme sigv4');
like($rec->{auth}{canonical_request},
     qr{^POST\n/model/anthropic\.claude-3-5-sonnet-20240620-v1%253A0/converse\n},
     'canonical URI double-encodes the %3A');

$r = signed_post(%base, cred => $AWS_S);
is($r->{status}, 200, 'session credentials (x-amz-security-token) accepted');
ok(last_record()->{auth}{session}, 'recorded as session credentials');
unlike($JSON->encode(last_record()), qr/\Q$AWS_S->{aws_session_token}\E/,
       'the session token is not in the record');

$r = signed_post(%base, cred => $AWS,
                 headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 200, 'signed without x-amz-content-sha256 accepted');

$r = signed_post(%base, cred => $AWS,
                 path => "/model/$MID/invoke-with-response-stream",
                 body => $JSON->encode($INVOKE),
                 headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 200, 'signed stream request accepted');
($msgs, $err) = es_parse($r->{body});
is(scalar @$msgs, 11, 'signed stream delivered');

# tampering
$r = signed_post(%base, cred => $AWS, send_body => $CBODY . ' ');
is($r->{status}, 400, 'body changed: x-amz-content-sha256 mismatch');
like($r->{body}, qr/x-amz-content-sha256/, 'says so');
$r = signed_post(%base, cred => $AWS, send_body => $CBODY . ' ',
                 headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 403, 'body changed (no sha header): signature refused');
is($r->{h}{'x-amzn-errortype'}, 'InvalidSignatureException',
   'InvalidSignatureException');
$r = signed_post(%base, cred => $AWS, edit => sub {
    my $h = shift;
    for (my $i = 0; $i < @$h; $i += 2) {
        $h->[$i + 1] = 'text/plain' if $h->[$i] eq 'Content-Type';
    }
});
is($r->{status}, 403, 'signed header changed: refused');
$r = signed_post(%base, cred => $AWS,
                 send_path => "/model/$MID/converse-stream");
is($r->{status}, 403, 'path changed: refused');
$r = signed_post(%base, cred => $AWS,
                 send_path => '/model/anthropic.claude-3-5-sonnet-'
                              . '20240620-v1:0/converse');
is($r->{status}, 403, 'path re-encoded (: for %3A): refused');
$r = signed_post(%base, cred => $AWS_S, edit => sub {
    my $h = shift;
    for (my $i = 0; $i < @$h; $i += 2) {
        $h->[$i + 1] .= 'x' if $h->[$i] eq 'X-Amz-Security-Token';
    }
});
is($r->{status}, 403, 'session token changed: refused');
is($r->{h}{'x-amzn-errortype'}, 'UnrecognizedClientException',
   'UnrecognizedClientException');
$r = signed_post(%base, cred => { %$AWS_S, aws_session_token => undef });
is($r->{status}, 403, 'session credentials without their token: refused');
$r = signed_post(%base, cred => { %$AWS,
                                  aws_secret_access_key => 'wrong' });
is($r->{status}, 403, 'wrong secret key: refused');
$r = signed_post(%base, cred => { %$AWS, aws_access_key_id => 'AKIAUNKNOWN' });
is($r->{h}{'x-amzn-errortype'}, 'UnrecognizedClientException',
   'unknown access key id');
{
    my @t = gmtime(time - 900);
    my $old = sprintf('%04d%02d%02dT%02d%02d%02dZ', $t[5] + 1900, $t[4] + 1,
                      @t[3, 2, 1, 0]);
    $r = signed_post(%base, cred => $AWS, timestamp => $old);
    is($r->{status}, 403, 'X-Amz-Date 15 minutes old: refused');
    like($r->{body}, qr/Signature expired/, 'Signature expired');
}
$r = signed_post(%base, cred => $AWS, region => 'us-west-2');
is($r->{status}, 403, 'wrong region for the host: refused');
$r = signed_post(%base, cred => $AWS, region => 'us-west-2',
                 host => 'bedrock-runtime.us-west-2.amazonaws.com');
is($r->{status}, 200, 'region taken from a bedrock-runtime Host');

# --------------------------------------------------------------------------
# Gemini

my $GM = '/v1beta/models/gemini-2.0-flash';
my $GEN = { contents => [ { role => 'user',
                            parts => [ { text => 'hi there' } ] } ] };
my @GK = ('x-goog-api-key' => $KEY{gemini});

$r = post_json("$GM:generateContent", \@GK, $GEN);
is($r->{status}, 200, 'gemini generate 200');
$j = jbody($r);
is($j->{candidates}[0]{content}{parts}[0]{text},
   'Hello from the llmgw mock.', 'gemini text');
is_deeply([ @{ $j->{usageMetadata} }{qw(promptTokenCount
                                         candidatesTokenCount
                                         totalTokenCount)} ], [ 2, 6, 8 ],
          'usageMetadata');

$r = post_json("$GM:streamGenerateContent?alt=sse", \@GK, $GEN);
is($r->{status}, 200, 'gemini stream 200');
like($r->{h}{'content-type'}, qr{^text/event-stream}, 'gemini SSE type');
$ev = sse_events($r->{body}, "\r\n\r\n");
ok($ev && @$ev == 6, 'six events separated by \r\n\r\n');
my @gj = map { $JSON->decode($_) } @$ev;
is(join('', map { $_->{candidates}[0]{content}{parts}[0]{text} } @gj),
   'Hello from the llmgw mock.', 'gemini streamed text');
is($gj[-1]{candidates}[0]{finishReason}, 'STOP', 'last has finishReason');
is($gj[-1]{usageMetadata}{totalTokenCount}, 8, 'last has usage');

$r = post_json("$GM:streamGenerateContent", \@GK, $GEN);
$j = jbody($r);
is(ref $j, 'ARRAY', 'without alt=sse: a JSON array');
is(scalar @$j, 6, 'array of 6 responses');

$r = post_json("$GM:countTokens", \@GK, $GEN);
is(jbody($r)->{totalTokens}, 2, 'countTokens');

$r = post_json("$GM:generateContent?key=$KEY{gemini}", \@GK, $GEN);
is($r->{status}, 400, 'key= in the query refused');
like($r->{body}, qr/key=/, 'says why');
unlike($r->{body}, qr/\Q$KEY{gemini}\E/, 'without echoing the key');
$r = post_json("$GM:generateContent", [], $GEN);
is($r->{status}, 403, 'no key: 403');
is(jbody($r)->{error}{status}, 'PERMISSION_DENIED', 'Google error shape');
$r = post_json("$GM:generateContent", [ 'x-goog-api-key' => 'AIzaX' ],
               $GEN);
is($r->{status}, 400, 'wrong key: 400 as Gemini answers');
is(jbody($r)->{error}{details}[0]{reason}, 'API_KEY_INVALID',
   'API_KEY_INVALID');
$r = post_json("$GM:generateContent", [ 'x-goog-api-key' => $JWT ], $GEN);
is($r->{status}, 400, 'JWT as x-goog-api-key: 400');
like($r->{body}, qr/header x-goog-api-key/, 'names x-goog-api-key');

# --------------------------------------------------------------------------
# faults

for my $c ([ 'azure', "$AZ/chat/completions$AV", \@AZK, $CHAT ],
           [ 'bedrock', "/model/$MID/converse", \@BR, $CONVERSE ],
           [ 'gemini', "$GM:generateContent", \@GK, $GEN ])
{
    my ($p, $path, $h, $b) = @$c;
    $r = post_json($path, [ @$h, 'x-mock-fault' => 'status-429' ], $b);
    is($r->{status}, 429, "$p status-429");
    is($r->{h}{'retry-after'}, 1, "$p Retry-After");
    $r = post_json($path, [ @$h, 'x-mock-fault' => 'status-500' ], $b);
    is($r->{status}, 500, "$p status-500");
    ok(jbody($r), "$p 500 body is JSON");
}
is($r->{status}, 500, 'last 500 came from Gemini');
is(jbody($r)->{error}{status}, 'INTERNAL', 'Gemini INTERNAL');

$r = post_json("$AZ/chat/completions$AV", [ @AZK, 'x-mock-fault' =>
                                            'slow-400' ], $CHAT);
cmp_ok($r->{header_time} - $r->{t0}, '>=', 0.4, 'slow-400 delays headers');
is($r->{status}, 200, 'slow request still answers');

for my $c ([ 'azure SSE', "$AZ/chat/completions$AV", \@AZK,
             { %$CHAT, stream => JSON::PP::true } ],
           [ 'bedrock event-stream', "/model/$MID/converse-stream", \@BR,
             $CONVERSE ],
           [ 'gemini SSE', "$GM:streamGenerateContent?alt=sse", \@GK, $GEN ],
           [ 'azure JSON', "$AZ/chat/completions$AV", \@AZK, $CHAT ])
{
    my ($p, $path, $h, $b) = @$c;
    $r = post_json($path, [ @$h, 'x-mock-fault' => 'reset-mid-stream' ], $b);
    is($r->{status}, 200, "$p reset: headers sent");
    ok(!$r->{complete}, "$p reset: body not complete");
    ok(length $r->{body} > 0, "$p reset: some of it arrived");
    is(last_record()->{outcome}, 'reset', "$p reset recorded");
}

# hang: no answer; the mock notices the client leaving
{
    my $s = connect_mock();
    my $b = $JSON->encode($CHAT);
    syswrite($s, "POST $AZ/chat/completions$AV HTTP/1.1\r\nHost: x\r\n"
             . "api-key: $KEY{azure}\r\nx-mock-fault: hang\r\n"
             . "Content-Length: " . length($b) . "\r\n\r\n$b");
    my ($reads, $end) = read_all($s, 1.5);
    is($end, 'timeout', 'hang: nothing within 1.5 s');
    is(scalar @$reads, 0, 'hang: not a byte');
    close $s;
    # the mock records the hang once it sees the client gone: up to 10 s
    my $rec;
    for (1 .. 100) {
        $rec = last_record();
        last if ($rec->{outcome} // '') eq 'hang';
        sleep 0.1;
    }
    is($rec->{outcome}, 'hang', 'hang recorded');
    is(req('GET', '/__mock/health')->{status}, 200, 'alive after hang');
}

# malformed responses, written raw: the broken part in the same write as the
# header, or with -late in a write the delay after a valid first chunk; the
# connection is closed after them

sub malformed {
    my ($fault) = @_;
    my $s = connect_mock();
    my $b = $JSON->encode($CHAT);
    syswrite($s, "POST $AZ/chat/completions$AV HTTP/1.1\r\nHost: x\r\n"
             . "api-key: $KEY{azure}\r\nx-mock-fault: $fault\r\n"
             . "x-mock-delay-ms: 300\r\n"
             . "Content-Length: " . length($b) . "\r\n\r\n$b");
    my ($reads, $end) = read_all($s, 5);
    close $s;
    return ($reads, $end, join '', map { $_->[1] } @$reads);
}

{
    my ($reads, $end, $raw) = malformed('bad-status-line');
    like($raw, qr{\AHTTP/1\.1 2x0 OK\r\n}, 'bad-status-line: status line');
    like($raw, qr/\r\n\r\n\{"llmgw-mock": "malformed"\}\z/,
         'bad-status-line: then a body');
    is($end, 'eof', 'bad-status-line: closed');
    is(last_record()->{outcome}, 'malformed', 'bad-status-line recorded');

    ($reads, $end, $raw) = malformed('bad-header-line');
    my $head = qr{\AHTTP/1\.1 200 OK\r\n(?:[^\r\n]+\r\n)*};
    like($raw, qr{${head}X-Mock Broken: yes\r\n},
         'bad-header-line: a space in a header name');
    is($end, 'eof', 'bad-header-line: closed');
    is(last_record()->{outcome}, 'malformed', 'bad-header-line recorded');
}

for my $c ([ 'minus1', '-1' ], [ 'huge', '7FFFFFFFFFFFFFFF' ]) {
    my ($name, $size) = @$c;
    my $f = "bad-chunk-$name";

    my ($reads, $end, $raw) = malformed($f);
    my $head = qr{\AHTTP/1\.1 200 OK\r\n(?:[^\r\n]+\r\n)*};
    like($reads->[0][1], qr{$head\r\n\Q$size\E\r\n},
         "$f: first chunk size $size in the header's write");
    like($reads->[0][1], qr{${head}Transfer-Encoding: chunked\r\n},
         "$f: chunked");
    is($end, 'eof', "$f: closed");
    is(last_record()->{outcome}, 'malformed', "$f recorded");

    ($reads, $end, $raw) = malformed("$f-late");
    like($reads->[0][1],
         qr{\r\n\r\n25\r\ndata: \{"llmgw-mock": "first event"\}\n\n\r\n\z},
         "$f-late: a valid first chunk with the header");
    my ($late) = grep { $_->[1] =~ /\A\Q$size\E\r\n/ } @$reads;
    ok($late, "$f-late: chunk size $size in a later write");
    cmp_ok($late ? $late->[0] - $reads->[0][0] : 0, '>=', 0.25,
           "$f-late: the delay apart");
    is($end, 'eof', "$f-late: closed");
    is(last_record()->{outcome}, 'malformed', "$f-late recorded");
}

# --------------------------------------------------------------------------
# concurrency: streams in parallel take the time of one

{
    my @socks;
    my $b = $JSON->encode({ %$CHAT, stream => JSON::PP::true });
    my $t0 = time;
    for (1 .. 6) {
        my $s = connect_mock();
        syswrite($s, "POST $AZ/chat/completions$AV HTTP/1.1\r\nHost: x\r\n"
                 . "api-key: $KEY{azure}\r\nConnection: close\r\n"
                 . "Content-Length: " . length($b) . "\r\n\r\n$b");
        push @socks, $s;
    }
    my $ok = 0;
    for my $s (@socks) {
        my ($reads, $end) = read_all($s, 10);
        my $x = parse_response($reads, $end);
        $ok++ if $x->{complete} && $x->{body} =~ /\[DONE\]/;
    }
    my $took = time - $t0;
    is($ok, 6, 'six parallel streams complete');
    cmp_ok($took, '<', 6 * 9 * $DELAY / 1000, "in parallel (${took}s)");
}

# --------------------------------------------------------------------------
# HTTP details and bad input

{
    # keep-alive: two requests on one connection
    my $s = connect_mock();
    my $b = $JSON->encode($CHAT);
    my $one = "POST $AZ/chat/completions$AV HTTP/1.1\r\nHost: x\r\n"
              . "api-key: $KEY{azure}\r\nContent-Length: " . length($b)
              . "\r\n\r\n$b";
    syswrite($s, $one . $one);
    my $n = 0;
    my ($reads) = read_all($s, 3, sub {
        $n = () = $_[0] =~ /HTTP\/1\.1 200/g;
        return $n == 2 && $_[0] =~ /mock\.".*mock\."/s;
    });
    is($n, 2, 'keep-alive: two answers on one connection');
    close $s;
}

$r = req('POST', "$AZ/chat/completions$AV",
         [ @AZK, 'Transfer-Encoding' => 'chunked' ],
         "5\r\n{\"mes\r\n" . sprintf("%x", length($JSON->encode($CHAT)) - 5)
         . "\r\n" . substr($JSON->encode($CHAT), 5) . "\r\n0\r\n\r\n",
         no_length => 1);
is($r->{status}, 200, 'chunked request body decoded');

$r = req('POST', "$AZ/chat/completions$AV",
         [ @AZK, 'Content-Type' => 'application/json' ],
         $JSON->encode({ %$CHAT, stream => JSON::PP::true }),
         version => 'HTTP/1.0');
is($r->{version}, 'HTTP/1.1', 'answers HTTP/1.0 with HTTP/1.1');
ok(!$r->{h}{'transfer-encoding'}, 'no chunked encoding for HTTP/1.0');
like($r->{body}, qr/data: \[DONE\]\n\n\z/, 'HTTP/1.0 stream ends at close');

$r = req('POST', "$AZ/chat/completions$AV",
         [ @AZK, 'Content-Length' => 99999999999 ], '', no_length => 1);
is($r->{status}, 413, 'huge Content-Length: 413');
$r = req('POST', "$AZ/chat/completions$AV",
         [ @AZK, 'Content-Length' => 'abc' ], '', no_length => 1);
is($r->{status}, 400, 'bad Content-Length: 400');
{
    my $s = connect_mock();
    syswrite($s, "\x00\xffGARBAGE \x01\r\n\r\n");
    my ($reads, $end) = read_all($s, 3);
    my $x = parse_response($reads, $end);
    is($x->{status}, 400, 'garbage request line: 400');
    close $s;
}
$r = req('GET', "$AZ/chat/completions$AV", \@AZK);
is($r->{status}, 405, 'GET on a provider path: 405');
$r = post_json('/nope', [], {});
is($r->{status}, 404, 'unknown path: 404');
is(req('GET', '/__mock/health')->{status}, 200, 'alive after bad input');

# --------------------------------------------------------------------------
# control endpoints

{
    my $all = records();
    ok(@$all > 50, 'requests recorded (' . scalar(@$all) . ')');
    my $enc = $JSON->encode($all);
    my @leaked = grep { index($enc, $_) >= 0 } @ALL_SECRETS;
    is(scalar @leaked, 0, 'no credential value in the records');
    unlike($enc, qr/eyJhbGci/, 'no JWT in the records');
    my ($sha) = grep { $_->{path} eq "/model/$MID/converse"
                       && ($_->{auth}{scheme} // '') eq 'sigv4' } @$all;
    is($sha->{body_sha256}, $SHA, 'body sha256 recorded');
    is($sha->{body_length}, length $CBODY, 'body length recorded');
    ok(!grep({ !defined $_->{time} || !defined $_->{method} } @$all),
       'time and method in each record');
    my $since = records('?since=' . $all->[-3]{id});
    is(scalar @$since, 2, '?since= filter');
    my $gem = records('?provider=gemini');
    ok(@$gem && !grep({ $_->{provider} ne 'gemini' } @$gem),
       '?provider= filter');
}

$r = req('GET', '/idp/jwks.json');
is($r->{body}, $JWKS0, '--jwks serves the initial document');
req('GET', '/idp/jwks.json');
is(jbody(req('GET', '/__mock/idp/stats'))->{fetches}, 2, 'two fetches');
my $JWKS1 = '{"keys":[{"kty":"oct","kid":"rotated","k":"BBBB"}]}';
$r = req('PUT', '/__mock/idp/jwks', [ 'x-mock-cache-control' =>
                                      'max-age=60' ], $JWKS1);
is($r->{status}, 200, 'PUT jwks');
$r = req('GET', '/idp/jwks.json');
is($r->{body}, $JWKS1, 'replaced document served');
is($r->{h}{'cache-control'}, 'max-age=60', 'with the Cache-Control given');
is(req('PUT', '/__mock/idp/jwks', [], 'not json')->{status}, 400,
   'PUT of a non-JSON document: 400');
is(jbody(req('GET', '/__mock/idp/stats'))->{fetches}, 3, 'three fetches');
is(req('POST', '/__mock/reset')->{status}, 200, 'reset');
is_deeply(records(), [], 'no records after reset');
is(jbody(req('GET', '/__mock/idp/stats'))->{fetches}, 0, 'stats reset');
is(req('GET', '/idp/jwks.json')->{body}, $JWKS0, 'JWKS back to --jwks');

# --------------------------------------------------------------------------
# TLS listener (curl: IO::Socket::SSL is not installed here)

SKIP: {
    skip 'curl not installed', 3 if system('curl --version >/dev/null 2>&1');
    my $out = `curl -sS --cacert $tmp/certs/ca.crt https://localhost:$TLS_PORT/__mock/health 2>&1`;
    like($out, qr/"status": "ok"/, 'TLS as localhost');
    $out = `curl -sS --cacert $tmp/certs/ca.crt --resolve mock.llmgw.test:$TLS_PORT:127.0.0.1 https://mock.llmgw.test:$TLS_PORT/__mock/health 2>&1`;
    like($out, qr/"status": "ok"/, 'TLS as mock.llmgw.test');
    $out = `curl -sS -N --cacert $tmp/certs/ca.crt -H 'api-key: $KEY{azure}' -d '{"stream":true,"messages":[{"role":"user","content":"x"}]}' 'https://127.0.0.1:$TLS_PORT$AZ/chat/completions$AV' 2>&1`;
    like($out, qr/data: \[DONE\]/, 'SSE over TLS');
}

# --------------------------------------------------------------------------
# the log

{
    kill 'TERM', $pid;
    waitpid($pid, 0);
    $pid = 0;
    my $log = slurp($LOG);
    my @leaked = grep { index($log, $_) >= 0 } @ALL_SECRETS;
    is(scalar @leaked, 0, 'no credential value in the log');
    unlike($log, qr/eyJhbGci/, 'no JWT in the log');
    like($log, qr{POST /model/$MID/converse 200}, 'one line per request');
    unlike($log, qr/Traceback/, 'no Python traceback in the log');
    like($log, qr/stopped$/m, 'stopped on SIGTERM');
}

done_testing();
