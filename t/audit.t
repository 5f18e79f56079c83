# llmgw_audit: one JSON line for every request of an llmgw location, read
# back from the file and parsed field by field: allowed through the mock
# provider, 401, 403 for a scope, 400 for an ambiguous path, 502 for a
# broken provider; hostile values still one valid line; the credential
# query value redacted; no line where llmgw is off; the buffer flushed
# when full and by its timer; USR1 reopens with no line lost; a write
# failure reported.  Plain Test::More: files, signals and timing.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use Digest::SHA qw(sha256_hex);
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
my $log = "$dir/logs/audit.log";

my $azure = <<"_EOC_";
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            llmgw_provider azure_openai;
            llmgw_pass_strip_prefix /azure;
            llmgw_pass http://$mock;
            llmgw_pass_api_key file=$secrets/azure.key;
            llmgw_api_scope chat openai.text;
_EOC_

nginx_conf($dir, <<"_EOC_");
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;

    llmgw_scopes {
        all     text;
        text    openai.text openai.stt;
    }

    llmgw_audit_department_claim custom:department;

    server {
        listen 127.0.0.1:$port;

        llmgw_audit $log;
        llmgw_audit_field ua \$http_user_agent;

        location /azure/ {
$azure
        }

        location /both/ {
            llmgw_audit $dir/logs/second.log;
            llmgw_audit $dir/logs/third.log;
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            root $dir/html;
            try_files /ok.txt =404;
        }

        location /plain/ {
            return 204;
        }

        location /off/ {
            llmgw_audit off;
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            root $dir/html;
            try_files /ok.txt =404;
        }

        location /buffered/ {
            llmgw_audit $dir/logs/buffered.log buffer=64k flush=1s;
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            root $dir/html;
            try_files /ok.txt =404;
        }

        location /full/ {
            llmgw_audit $dir/logs/full.log buffer=2k flush=1h;
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            root $dir/html;
            try_files /ok.txt =404;
        }

        location /devfull/ {
            llmgw_audit /dev/full;
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            root $dir/html;
            try_files /ok.txt =404;
        }
    }
_EOC_

open my $ok, '>', "$dir/html/ok.txt" or die $!;
print $ok "ok\n";
close $ok;

my $pid = nginx_start($dir, $port) or BAIL_OUT('nginx did not start');
my $http = HTTP::Tiny->new(timeout => 10);
my $json = JSON::PP->new->utf8;

my $CHAT = '{"messages":[{"role":"user","content":"hi"}]}';
my $PATH = '/azure/openai/deployments/gpt-4o/chat/completions'
           . '?api-version=2024-10-21';
my $JTI = 'jti-audit-1';

my $token = llmgw_token(sub => 'alice', jti => $JTI,
                        scope => 'text',
                        claims => { client_id => 'app-1',
                                    'custom:department' => 'finance' });

# the lines of a file, each parsed; dies on one that is not JSON
sub lines {
    my ($file) = @_;
    open my $fh, '<:raw', $file or return ();
    my @l = <$fh>;
    close $fh;
    return @l;
}

sub records {
    return map { $json->decode($_) } lines(@_);
}

sub request {
    my ($method, $path, %h) = @_;
    my $body = delete $h{body};
    return $http->request($method, "http://127.0.0.1:$port$path",
                          { headers => \%h,
                            defined $body ? (content => $body) : () });
}

# a raw request: bytes HTTP::Tiny would refuse to send
sub raw {
    my ($text) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port")
        or die "connect: $!";
    print $s $text;
    local $/;
    my $res = <$s>;
    close $s;
    return $res;
}

my @expect;   # request ids, in order

# 1. allowed, through the mock; the api-key query value is redacted

my $r = request('POST', "$PATH&api-key=SECRET1"
                         . "&x-amz-credential=SECRET2&keep=1",
                Authorization => "Bearer $token",
                'Content-Type' => 'application/json',
                'User-Agent' => 'ua-1',
                body => $CHAT);
is($r->{status}, 200, 'allowed: 200');

# 2. no token: 401
$r = request('POST', $PATH, 'User-Agent' => 'ua-2', body => $CHAT);
is($r->{status}, 401, 'no token: 401');

# 3. a token without the scope: 403
my $weak = llmgw_token(sub => 'bob', scope => 'openai.stt');
$r = request('POST', $PATH, Authorization => "Bearer $weak",
             'User-Agent' => 'ua-3', body => $CHAT);
is($r->{status}, 403, 'scope: 403');

# 4. an ambiguous path: 400
$r = request('POST', '/azure/openai/deployments/gpt-4o//chat/completions'
                     . '?api-version=2024-10-21',
             Authorization => "Bearer $token", 'User-Agent' => 'ua-4',
             body => $CHAT);
is($r->{status}, 400, 'ambiguous path: 400');

# 5. the provider answers nonsense: 502
$r = request('POST', $PATH, Authorization => "Bearer $token",
             'X-Mock-Fault' => 'bad-status-line', 'User-Agent' => 'ua-5',
             body => $CHAT);
is($r->{status}, 502, 'broken provider: 502');

# 6. hostile claims: quotes, backslash, newlines, control bytes, U+2028
my $evil = "a\"b\\c\nd\re\x{01}f\x{2028}g</script>";
my $hostile = llmgw_token(sub => $evil, scope => 'text',
                          claims => { client_id => "\"}\n{\"x\":1",
                                      'custom:department' => "\t\"dep\"" });
like(raw("GET /both/x HTTP/1.0\r\nAuthorization: Bearer $hostile\r\n"
        . "User-Agent: ua-6\xff\xfe\"\\\r\n\r\n"),
     qr{\AHTTP/1.1 200 }, 'hostile claims: allowed');

# 7. invalid UTF-8 in the path and in a token's sub
raw("GET /both/\xc3\x28\xff?key=SECRET3 HTTP/1.0\r\nUser-Agent: ua-7\r\n\r\n");
my $bad = llmgw_token(raw_payload => "{\"sub\":\"\xff\xfe\",\"exp\":"
                                     . (time() + 300) . "}");
$r = request('GET', '/both/y', Authorization => "Bearer $bad",
             'User-Agent' => 'ua-8');
is($r->{status}, 401, 'invalid UTF-8 in sub: not a token');

# 8. no line where llmgw is off, or llmgw_audit off
request('GET', '/plain/', 'User-Agent' => 'ua-plain');
request('GET', '/off/', Authorization => "Bearer $token",
        'User-Agent' => 'ua-off');

select(undef, undef, undef, 0.3);

my @l = lines($log);
my @rec;

for my $i (0 .. $#l) {
    my $rec = eval { $json->decode($l[$i]) };
    ok($rec, "line " . ($i + 1) . " is JSON") or diag($l[$i]);
    like($l[$i], qr/\A[^\n]*\n\z/, "line " . ($i + 1) . " is one line");
    push @rec, $rec;
}

my @both = records("$dir/logs/second.log");
my %by = map { ($_->{ua} // '') => $_ } @rec, @both;

is(scalar @l, 5, 'five lines: the llmgw requests of /azure/')
    or diag(join '', @l);
ok(!exists $by{'ua-plain'} && !exists $by{'ua-off'},
   'no line where llmgw is off or llmgw_audit off');

# allowed
my $a = $by{'ua-1'};
is($a->{v}, 1, 'v');
like($a->{time}, qr/\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\z/, 'time');
like($a->{id}, qr/\A[0-9a-f]{32}\z/, 'id is $request_id');
is($a->{client}, '127.0.0.1', 'client');
is($a->{method}, 'POST', 'method');
is($a->{path}, "$PATH&api-key=REDACTED"
               . "&x-amz-credential=REDACTED&keep=1",
   'path: credential query values redacted');
is($a->{status}, 200, 'status');
is($a->{decision}, 'allow', 'decision');
ok(exists $a->{reason} && !defined $a->{reason}, 'reason null');
is($a->{sub}, 'alice', 'sub');
is($a->{client_id}, 'app-1', 'client_id');
is($a->{department}, 'finance', 'department');
is_deeply($a->{scopes}, ['text'], 'scopes granted');
is_deeply($a->{required}, [], 'required: none failed');
is($a->{jti_sha256}, sha256_hex($JTI), 'jti only as its hash');
is($a->{provider}, 'azure_openai', 'provider');
is($a->{api}, 'chat', 'api');
is($a->{model}, 'gpt-4o', 'model');
is($a->{upstream_addr}, $mock, 'upstream_addr');
is($a->{upstream_status}, 200, 'upstream_status');
is($a->{outcome}, 'ok', 'outcome');
is($a->{stream}, JSON::PP::false, 'stream false');
ok($a->{duration_ms} >= 0 && $a->{upstream_ms} >= 0, 'durations');
ok($a->{bytes_in} > length $CHAT, 'bytes_in');
ok($a->{bytes_out} > 0, 'bytes_out');
is($a->{usage_source}, 'provider', 'usage_source: the mock reports usage');
like($a->{'gen_ai.usage.input_tokens'} // '', qr/\A[1-9][0-9]*\z/,
     'usage: input tokens as an integer');
like($a->{'gen_ai.usage.output_tokens'} // '', qr/\A[1-9][0-9]*\z/,
     'usage: output tokens as an integer');
ok(!exists $a->{'gen_ai.usage.reasoning.output_tokens'},
   'usage: a count the provider did not report is left out');

unlike($l[0] . join('', @l), qr/SECRET|\Q$token\E|Bearer/,
       'no token, key or secret in any line');

# 401
my $d = $by{'ua-2'};
is($d->{status}, 401, '401: status');
is($d->{decision}, 'deny', '401: decision');
is($d->{reason}, 'missing bearer token', '401: reason');
ok(!defined $d->{sub} && !defined $d->{scopes}, '401: no identity');
ok(!defined $d->{upstream_addr} && !defined $d->{outcome},
   '401: the provider was not called');
is($d->{provider}, 'azure_openai', '401: provider');
is($d->{model}, 'gpt-4o', '401: the model it asked for');

# 403
$d = $by{'ua-3'};
is($d->{status}, 403, '403: status');
is($d->{decision}, 'deny', '403: decision');
is($d->{reason}, 'insufficient scope', '403: reason');
is($d->{sub}, 'bob', '403: sub');
is_deeply($d->{scopes}, ['openai.stt'], '403: scopes granted');
is_deeply($d->{required}, ['openai.text'], '403: the scope required');

# 400
$d = $by{'ua-4'};
is($d->{status}, 400, '400: status');
is($d->{decision}, 'deny', '400: decision');
is($d->{reason}, 'request path cannot be forwarded', '400: reason');
is($d->{path}, '/azure/openai/deployments/gpt-4o//chat/completions'
               . '?api-version=2024-10-21',
   '400: the path as sent');

# 502
$d = $by{'ua-5'};
is($d->{status}, 502, '502: status');
is($d->{decision}, 'allow', '502: decision');
is($d->{outcome}, 'bad_response', '502: outcome');
is($d->{upstream_addr}, $mock, '502: upstream_addr');

# hostile
$d = $by{"ua-6\x{fffd}\x{fffd}\"\\"};
ok($d, 'invalid UTF-8 in a field: replaced')
    or diag(explain([ map { $_->{ua} } @both ]));
is($d->{sub}, $evil, "hostile sub round-trips") or diag(explain($d));
is($d->{client_id}, "\"}\n{\"x\":1", 'hostile client_id round-trips');
is($d->{department}, "\t\"dep\"", 'hostile department round-trips');

$d = $by{'ua-7'};
is($d->{path}, "/both/\x{fffd}(\x{fffd}?key=REDACTED",
   'invalid UTF-8 in the path replaced; key redacted');
ok($by{'ua-8'}, 'a token with invalid UTF-8: one line');

# several sinks: the /both/ lines went to both files, and only there
is(scalar @both, 3, 'second sink: 3 lines');
is(slurp("$dir/logs/third.log"), slurp("$dir/logs/second.log"),
   'third sink: the same lines');

# buffered: nothing before the flush timer, everything after it
request('GET', '/buffered/a', Authorization => "Bearer $token");
request('GET', '/buffered/b', Authorization => "Bearer $token");
is(scalar(() = lines("$dir/logs/buffered.log")), 0,
   'buffered: nothing written yet');
# flush=1s: wait for the timer (up to 10 s on a loaded machine)
wait_log(10, "$dir/logs/buffered.log", qr/\n/, 2);
is(scalar(() = records("$dir/logs/buffered.log")), 2,
   'buffered: both lines after the flush timer');

# a full buffer is written, whole lines only
for (1 .. 12) {
    request('GET', "/full/$_", Authorization => "Bearer $token");
}

my @full = lines("$dir/logs/full.log");
ok(@full > 0 && @full < 12, 'full buffer: written when full ('
                            . scalar(@full) . ' lines)');
is(scalar(grep { !/\n\z/ || !eval { $json->decode($_) } } @full), 0,
   'full buffer: whole lines');

# a write failure is reported
request('GET', '/devfull/', Authorization => "Bearer $token");
my $lost = 'llmgw_audit: write() to "/dev/full" failed, audit lines lost: 1 '
           . 'since the last report, 1 in all (28: No space left ';
# reported in the log phase, after the response: up to 10 s
wait_log(10, "$dir/logs/error.log", qr/\Q$lost\E/, 1);
like(slurp("$dir/logs/error.log"), qr/\Q$lost\E/, 'write failure reported');

# USR1 while requests go on: every line in the old or the new file
my $sent = 0;
my $before = scalar(() = lines($log));
rename $log, "$log.1" or die $!;

for my $i (1 .. 200) {
    request('POST', "$PATH&n=$i", Authorization => "Bearer $weak",
            'User-Agent' => 'usr1');
    $sent++;
    kill 'USR1', $pid if $i == 100;
}

# the worker reopens once the master has passed the signal on: wait (up
# to 10 s) for both to say so, then one request more, whose line is in
# the new file
wait_log(10, "$dir/logs/error.log", qr/\d+#\d+: reopening logs$/, 2);
request('POST', "$PATH&n=last", Authorization => "Bearer $weak",
        'User-Agent' => 'usr1');
$sent++;

# each line is written after its response: wait for the last (up to 10 s)
wait_for(10, sub {
    (grep { /"ua":"usr1"/ } lines("$log.1"), lines($log)) >= $sent;
}, 0.05);

my @old = grep { /"ua":"usr1"/ } lines("$log.1");
my @new = grep { /"ua":"usr1"/ } lines($log);
ok(@new > 0, 'USR1: the file was reopened (' . scalar(@new) . ' new)');
is(@old + @new, $sent, 'USR1: lines counted = requests sent');

nginx_stop($pid);

# the buffer is written at exit
is(scalar(() = records("$dir/logs/full.log")), 12,
   'full buffer: the rest written at exit');

my @alerts = grep { /\[(alert|emerg|crit)\]/ && !m{"/dev/full"} }
             split /\n/, slurp("$dir/logs/error.log");
is_deeply(\@alerts, [], 'no alert besides /dev/full');

done_testing();
