# tools/llmgw-usage, the billing report: a fixed set of hand-written audit
# lines (a plain file and a gzip one; hostile group values, bytes that are
# not UTF-8, a checkpoint line, a malformed line, two currencies) gives
# exact totals; a record at 2026-01-31T15:30:00Z is February in Asia/Tokyo
# and January in UTC; --day, --month, --from/--to; CSV byte for byte
# (formula cells prefixed) and JSON; --strict and the exit statuses.  Then
# real traffic through nginx with llmgw_audit and the mock provider: the
# report's totals equal the requests sent and the usage the mock reported.
# Plain Test::More: files and a tool's output.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use File::Temp qw(tempdir);
use IO::Compress::Gzip qw(gzip $GzipError);
use JSON::PP;
use LLMGW::Test qw(:all);

my $TOOL = llmgw_root() . '/tools/llmgw-usage';
my $tmp = tempdir('llmgw-usage-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $json = JSON::PP->new->utf8->canonical;

plan skip_all => "$PYTHON is missing" unless -x $PYTHON;


sub write_raw {
    my ($path, $bytes) = @_;
    open my $fh, '>:raw', $path or die "$path: $!";
    print $fh $bytes;
    close $fh;
}


# (exit status, stdout, stderr) of the tool
sub report {
    my ($status, $out, $err) = llmgw_run($PYTHON, $TOOL, @_);
    return ($status >> 8, $out, $err);
}


sub report_json {
    my ($rc, $out, $err) = report('--format', 'json', @_);
    is($rc, 0, "exit 0: @_") or diag($err);
    return eval { $json->decode($out) } // {};
}


# the counters of a group or the total, cost as { CUR => micros }
sub counters {
    my ($g) = @_;
    my %c = map { $_ => $g->{$_} }
            qw(requests allowed denied input_tokens output_tokens
               cache_read_tokens reasoning_tokens usage_missing
               cost_missing);
    $c{cost} = { map { $_ => $g->{cost}{$_}{micros} }
                 keys %{ $g->{cost} // {} } };
    return \%c;
}


sub expect {
    my (%c) = @_;
    my %e = (requests => 0, allowed => 0, denied => 0, input_tokens => 0,
             output_tokens => 0, cache_read_tokens => 0,
             reasoning_tokens => 0, usage_missing => 0, cost_missing => 0,
             cost => {});
    return { %e, %c };
}


# ---------------------------------------------------------------------
# the fixed records

my $HOSTILE_SUB = "a\"b\\c\nd";

my @plain = (
    # 1: January in UTC, February in Tokyo (00:30 JST)
    '{"v":1,"time":"2026-01-31T15:30:00.000Z","id":"r1","decision":"allow",'
    . '"sub":"alice","client_id":"app-1","department":"finance",'
    . '"provider":"azure_openai","model":"gpt-4o",'
    . '"gen_ai.usage.input_tokens":100,"gen_ai.usage.output_tokens":20,'
    . '"gen_ai.usage.cache_read.input_tokens":30,"usage_source":"provider",'
    . '"cost_micros":1500,"currency":"USD"}',
    # 2: January everywhere (23:59:59.999 JST)
    '{"v":1,"time":"2026-01-31T14:59:59.999Z","id":"r2","decision":"allow",'
    . '"sub":"alice","client_id":"app-1","department":"finance",'
    . '"provider":"azure_openai","model":"gpt-4o",'
    . '"gen_ai.usage.input_tokens":10,"gen_ai.usage.output_tokens":2,'
    . '"usage_source":"provider","cost_micros":150,"currency":"USD"}',
    # 3: denied, a department a spreadsheet would run
    '{"v":1,"time":"2026-02-01T00:00:00.000Z","id":"r3","decision":"deny",'
    . '"reason":"insufficient scope","sub":"bob","client_id":null,'
    . '"department":"=cmd|\' /C calc\'!A0","provider":"azure_openai",'
    . '"model":"gpt-4o","usage_source":"missing","cost_micros":null,'
    . '"currency":null}',
    # a checkpoint: not a request
    '{"v":1,"type":"checkpoint","time":"2026-02-01T00:00:01.000Z",'
    . '"heads":[],"chain":"1-1","seq":1,"prev":"' . ('0' x 64) . '"}',
    # a line cut short: malformed
    '{"v":1,"time":"2026-02-02T00:00:00.000Z","decision":"allow",',
);

my @gz = (
    # 6: another currency, a department with a comma and quotes
    '{"v":1,"time":"2026-02-15T12:00:00.000Z","id":"r6","decision":"allow",'
    . '"sub":"carol","client_id":"app-2","department":"-2+3,\"x\"",'
    . '"provider":"gemini","model":"gemini-2.0-flash",'
    . '"gen_ai.usage.input_tokens":7,"gen_ai.usage.output_tokens":9,'
    . '"gen_ai.usage.reasoning.output_tokens":4,"usage_source":"provider",'
    . '"cost_micros":2000000,"currency":"JPY"}',
    # 7: allowed, no usage
    '{"v":1,"time":"2026-02-15T12:00:01.000Z","id":"r7","decision":"allow",'
    . '"sub":"alice","client_id":"app-1","department":"finance",'
    . '"provider":"bedrock","model":"anthropic.claude-3-5-sonnet",'
    . '"usage_source":"missing","cost_micros":null,"currency":null}',
    # 8: bytes that are not UTF-8; usage but no price
    "{\"v\":1,\"time\":\"2026-02-20T08:00:00.000Z\",\"id\":\"r8\","
    . "\"decision\":\"allow\",\"sub\":\"dave\",\"client_id\":\"app-1\","
    . "\"department\":\"\xff\xfeops\",\"provider\":\"azure_openai\","
    . "\"model\":\"gpt-4o\",\"gen_ai.usage.input_tokens\":1,"
    . "\"gen_ai.usage.output_tokens\":1,\"usage_source\":\"provider\","
    . "\"cost_micros\":null,\"currency\":null}",
    # 9: March in UTC and in Tokyo; decision none; a hostile subject
    '{"v":1,"time":"2026-03-01T00:00:00.000Z","id":"r9","decision":"none",'
    . '"sub":"a\"b\\\\c\nd","client_id":null,"department":"@SUM(1)",'
    . '"provider":null,"model":null,"usage_source":"missing",'
    . '"cost_micros":null,"currency":null}',
);

my $plain = "$tmp/audit.log.1";
my $gzf = "$tmp/audit.log.2.gz";
write_raw($plain, join '', map { "$_\n" } @plain);
gzip(\(join '', map { "$_\n" } @gz) => $gzf) or die $GzipError;

my $FFFD = "\x{FFFD}";

# everything, per department, CSV byte for byte

my ($rc, $out, $err) = report($plain, $gzf);
is($rc, 0, 'all records: exit 0') or diag($err);
is($out, join('',
    map { "$_\r\n" }
    'department,requests,allowed,denied,input_tokens,output_tokens,'
        . 'cache_read_tokens,reasoning_tokens,usage_missing,cost_missing,'
        . 'cost_micros_JPY,cost_JPY,cost_micros_USD,cost_USD',
    q{"'-2+3,""x""",1,1,0,7,9,0,4,0,0,2000000,2.000000,0,0.000000},
    q{'=cmd|' /C calc'!A0,1,0,1,0,0,0,0,0,0,0,0.000000,0,0.000000},
    q{'@SUM(1),1,0,0,0,0,0,0,0,0,0,0.000000,0,0.000000},
    'finance,3,3,0,110,22,30,0,1,0,0,0.000000,1650,0.001650',
    "\xef\xbf\xbd\xef\xbf\xbdops,1,1,0,1,1,0,0,0,1,0,0.000000,0,0.000000"),
   'CSV: every department, formula cells prefixed, exact');
like($err, qr/^llmgw-usage: malformed: \Q$plain\E:5: not JSON$/m,
     'the malformed line named on stderr');
like($err, qr/^llmgw-usage: 1 malformed line\(s\) skipped$/m,
     'the malformed lines counted');

# the same in JSON: totals, input statistics, the hostile values back

my $all = report_json($plain, $gzf, '--by', 'user');
is_deeply(counters($all->{total}),
          expect(requests => 7, allowed => 5, denied => 1,
                 input_tokens => 118, output_tokens => 32,
                 cache_read_tokens => 30, reasoning_tokens => 4,
                 usage_missing => 1, cost_missing => 1,
                 cost => { USD => 1650, JPY => 2000000 }),
          'JSON: the totals');
is_deeply($all->{input}, { lines => 9, records => 7, in_period => 7,
                           skipped => 1, malformed => 1 },
          'JSON: lines read, records, the checkpoint skipped, 1 malformed');
is_deeply([ map { $_->{user} } @{ $all->{groups} } ],
          [ $HOSTILE_SUB, 'alice', 'bob', 'carol', 'dave' ],
          'JSON: users sorted, the hostile one intact');
is_deeply($all->{total}{cost}{JPY}, { micros => 2000000,
                                      amount => '2.000000' },
          'JSON: cost as integer micros and decimal text');
is_deeply($all->{period}, { from => undef, to => undef, tz => 'UTC' },
          'JSON: no period');

my $deps = report_json($plain, $gzf);
is_deeply([ map { $_->{department} } @{ $deps->{groups} } ],
          [ '-2+3,"x"', q{=cmd|' /C calc'!A0}, '@SUM(1)', 'finance',
            "${FFFD}${FFFD}ops" ],
          'JSON: departments as recorded, invalid UTF-8 replaced');

# the time-zone boundary

my $jan_utc = report_json($plain, $gzf, '--month', '2026-01', '--by',
                          'none');
is_deeply(counters($jan_utc->{total}),
          expect(requests => 2, allowed => 2, input_tokens => 110,
                 output_tokens => 22, cache_read_tokens => 30,
                 cost => { USD => 1650 }),
          'January in UTC: records 1 and 2');

my $jan_tokyo = report_json($plain, $gzf, '--month', '2026-01', '--tz',
                            'Asia/Tokyo');
is_deeply(counters($jan_tokyo->{total}),
          expect(requests => 1, allowed => 1, input_tokens => 10,
                 output_tokens => 2, cost => { USD => 150 }),
          'January in Asia/Tokyo: record 2 only');
is_deeply($jan_tokyo->{period},
          { from => '2026-01-01T00:00:00+09:00',
            to => '2026-02-01T00:00:00+09:00', tz => 'Asia/Tokyo' },
          'the period in local time');

my $feb_tokyo = report_json($plain, $gzf, '--month', '2026-02', '--tz',
                            'Asia/Tokyo', '--by', 'provider');
is_deeply(counters($feb_tokyo->{total}),
          expect(requests => 5, allowed => 4, denied => 1,
                 input_tokens => 108, output_tokens => 30,
                 cache_read_tokens => 30, reasoning_tokens => 4,
                 usage_missing => 1, cost_missing => 1,
                 cost => { USD => 1500, JPY => 2000000 }),
          'February in Asia/Tokyo: record 1 counts there');
is_deeply({ map { $_->{provider} => $_->{requests} }
            @{ $feb_tokyo->{groups} } },
          { azure_openai => 3, gemini => 1, bedrock => 1 },
          'February in Asia/Tokyo per provider');

my $feb_utc = report_json($plain, $gzf, '--month', '2026-02');
is_deeply(counters($feb_utc->{total}),
          expect(requests => 4, allowed => 3, denied => 1,
                 input_tokens => 8, output_tokens => 10,
                 reasoning_tokens => 4, usage_missing => 1,
                 cost_missing => 1, cost => { JPY => 2000000 }),
          'February in UTC: record 1 does not');

# --day, --from/--to

my $d = report_json($plain, $gzf, '--day', '2026-01-31');
is($d->{total}{requests}, 2, '--day 2026-01-31 UTC: records 1 and 2');

$d = report_json($plain, $gzf, '--day', '2026-02-01', '--tz', 'Asia/Tokyo');
is($d->{total}{requests}, 2, '--day 2026-02-01 Tokyo: records 1 and 3');

$d = report_json($plain, $gzf, '--from', '2026-01-31T15:00',
                 '--to', '2026-02-01');
is($d->{total}{requests}, 2,
   '--from a datetime --to a date: the whole --to day (records 1, 3)');

$d = report_json($plain, $gzf, '--from', '2026-01-31T14:59:59.999Z',
                 '--to', '2026-01-31T15:30:00Z');
is($d->{total}{requests}, 1, '--to a datetime is exclusive (record 2)');

$d = report_json($plain, $gzf, '--from', '2026-02-15');
is($d->{total}{requests}, 4, '--from alone: to the end (6 to 9)')
    or diag(explain($d->{total}));

$d = report_json($plain, $gzf, '--from', '2026-02-01T09:00:00+09:00',
                 '--to', '2026-02-01T09:00:00.001+09:00');
is($d->{total}{requests}, 1, 'a bound with an offset (record 3)');

# stdin, --strict, exit statuses

my $stdin = `$PYTHON $TOOL --by none - < $plain 2>/dev/null`;
like($stdin, qr/\r\n3,2,1,110,22,30,0,0,0,1650,0.001650\r\n\z/,
     '- reads stdin (records 1, 2, 3)');

# gzip known by its first bytes, whatever the name
link $gzf, "$tmp/rotated.1" or die $!;
my $rot = report_json("$tmp/rotated.1", '--by', 'none');
is($rot->{total}{requests}, 4, 'a gzip file without .gz read as gzip');

($rc, $out, $err) = report('--strict', $plain, $gzf);
is($rc, 1, '--strict: a malformed line is fatal, exit 1');
is($out, '', '--strict: no report');
like($err, qr/fatal with --strict/, '--strict: said why');

($rc, $out, $err) = report('--strict', $gzf);
is($rc, 0, '--strict: a clean file passes');

($rc, $out, $err) = report("$tmp/none.log");
is($rc, 2, 'a missing file: exit 2');
like($err, qr/none\.log/, 'a missing file: named');

write_raw("$tmp/bad.gz", "\x1f\x8b\x08\x00garbage");
($rc, $out, $err) = report("$tmp/bad.gz");
is($rc, 2, 'a damaged gzip: exit 2');

for my $bad (['--tz', 'Mars/Olympus'], ['--by', 'team'],
             ['--month', '2026-13'], ['--day', '2026-02-30'],
             ['--to', '2026-01-01'], ['--day', '2026-01-01', '--month',
             '2026-01'], ['--from', '2026-02-01', '--to', '2026-01-01'])
{
    ($rc, $out, $err) = report(@$bad, $plain);
    is($rc, 2, "usage error: @$bad") or diag($err);
}

($rc, $out, $err) = report('--help');
is($rc, 0, '--help: exit 0');
like($out, qr/exit status: 0 report printed/, '--help: the exit statuses');


# ---------------------------------------------------------------------
# real traffic through nginx, llmgw_audit and the mock provider

SKIP: {
    for my $v (qw(TEST_NGINX_LOAD_MODULES TEST_NGINX_MOCK_PORT
                  TEST_NGINX_MOCK_SECRETS))
    {
        skip "$v is not set (t/run-tests.sh sets it)", 1 unless $ENV{$v};
    }

    traffic();
}

done_testing();


sub traffic {
    require HTTP::Tiny;
    require LLMGW::Nginx;
    LLMGW::Nginx->import();

    my $keys = llmgw_keys_dir();
    my $secrets = $ENV{TEST_NGINX_MOCK_SECRETS};
    my $mock = "127.0.0.1:$ENV{TEST_NGINX_MOCK_PORT}";
    my $dir = nginx_prefix();
    my $port = free_port();
    my $log = "$dir/logs/audit.log";

    nginx_conf($dir, <<"_EOC_", workers => 2);
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;

    llmgw_scopes {
        all     text;
        text    openai.text gemini.text;
    }

    llmgw_audit_department_claim department;

    server {
        listen 127.0.0.1:$port;

        llmgw_audit $log buffer=4k flush=100ms;
        llmgw_auth jwt;
        llmgw_jwt_keys $keys/jwks.json;

        location /azure/ {
            llmgw_provider azure_openai;
            llmgw_pass_strip_prefix /azure;
            llmgw_pass http://$mock;
            llmgw_pass_api_key file=$secrets/azure.key;
            llmgw_api_scope chat openai.text;
        }

        location /gemini/ {
            llmgw_provider gemini;
            llmgw_pass_strip_prefix /gemini;
            llmgw_pass http://$mock;
            llmgw_pass_api_key file=$secrets/gemini.key;
            llmgw_api_scope generateContent gemini.text;
        }
    }
_EOC_

    my $pid = nginx_start($dir, $port) or BAIL_OUT('nginx did not start');
    my $http = HTTP::Tiny->new(timeout => 10);

    my %tok = (
        finance => llmgw_token(sub => 'alice', scope => 'text',
                               claims => { department => 'finance' }),
        research => llmgw_token(sub => 'bob', scope => 'gemini.text',
                                claims => { department => 'research' }),
    );

    my $AZ = "http://127.0.0.1:$port/azure/openai/deployments/gpt-4o/"
             . 'chat/completions?api-version=2024-10-21';
    my $GE = "http://127.0.0.1:$port/gemini/v1beta/models/"
             . 'gemini-2.0-flash:generateContent';

    my %want;     # department => counters, from what the mock answered
    my $sent = 0;

    my $add = sub {
        my ($dep, $res, %u) = @_;
        my $w = $want{$dep} //= expect();
        $sent++;
        $w->{requests}++;
        if ($res->{status} == 200) {
            $w->{allowed}++;
            $w->{$_} += $u{$_} // 0 for keys %u;
        } else {
            $w->{denied}++;
        }
    };

    for my $i (1 .. 12) {
        my $words = join ' ', ('w') x $i;
        my %h = (Authorization => "Bearer $tok{finance}",
                 'Content-Type' => 'application/json');
        $h{'X-Mock-Usage-Details'} = 'cached=2,reasoning=1' if $i % 3 == 0;

        my $res = $http->post($AZ, { headers => \%h, content =>
            qq({"messages":[{"role":"user","content":"$words"}]}) });
        is($res->{status}, 200, "azure $i: 200");
        my $u = eval { $json->decode($res->{content})->{usage} } // {};
        $add->('finance', $res,
               input_tokens => $u->{prompt_tokens},
               output_tokens => $u->{completion_tokens},
               cache_read_tokens =>
                   $u->{prompt_tokens_details}{cached_tokens},
               reasoning_tokens =>
                   $u->{completion_tokens_details}{reasoning_tokens});
    }

    for my $i (1 .. 7) {
        my $res = $http->post($GE, { headers => {
                'Authorization' => "Bearer $tok{research}",
                'Content-Type' => 'application/json' },
            content => '{"contents":[{"role":"user","parts":[{"text":"'
                       . join(' ', ('p') x $i) . '"}]}]}' });
        is($res->{status}, 200, "gemini $i: 200");
        my $u = eval { $json->decode($res->{content})->{usageMetadata} }
                // {};
        $add->('research', $res,
               input_tokens => $u->{promptTokenCount},
               output_tokens => $u->{candidatesTokenCount});
    }

    # denied: research may not call Azure (403), no token (401)
    for my $i (1 .. 3) {
        my $res = $http->post($AZ, { headers => {
                'Authorization' => "Bearer $tok{research}" },
            content => '{"messages":[]}' });
        is($res->{status}, 403, "denied $i: 403");
        $add->('research', $res);
    }

    my $res = $http->post($AZ, { content => '{"messages":[]}' });
    is($res->{status}, 401, 'no token: 401');
    $sent++;
    my $none = $want{''} = expect(requests => 1, denied => 1);

    select(undef, undef, undef, 0.5);    # the buffer's flush timer
    nginx_stop($pid);

    my $r = report_json('--by', 'department', $log);
    is($r->{total}{requests}, $sent, "report: $sent requests, as sent");
    is($r->{input}{malformed}, 0, 'report: no malformed line');

    my %got = map { ($_->{department} // '') => counters($_) }
              @{ $r->{groups} };

    # no price is configured: every call with usage has no cost
    for my $dep (keys %want) {
        $want{$dep}{cost_missing} = $want{$dep}{allowed};
    }

    is_deeply(\%got, \%want,
              'report per department = the requests sent and the usage '
              . 'the mock answered')
        or diag(explain(\%got));

    ok($want{finance}{input_tokens} > 0 && $want{finance}{cache_read_tokens}
       && $want{finance}{reasoning_tokens} && $want{research}{input_tokens},
       'the mock reported usage of every kind');
}
