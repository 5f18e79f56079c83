# llmgw_audit_required: while none of a location's audit sinks accepts
# lines (the last write to each failed, none succeeded since), its
# requests get 503 with Retry-After and the JSON error, before the
# provider is called; a location with one sink still working, or with
# llmgw_audit_required off, goes on; a sink that works again (here a
# symlink moved from /dev/full to a file, then USR1) is found by the next
# line, and requests pass again.  Lost lines are counted (in the error
# log at most once a second per sink, and in the metrics).  Plain
# Test::More: files, signals, timing.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(time sleep);
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
my $sink = "$dir/logs/sink.log";

symlink '/dev/full', $sink or die "symlink: $!";
symlink '/dev/full', "$dir/logs/auth.log" or die "symlink: $!";

my $azure = <<"_EOC_";
            llmgw_provider azure_openai;
            llmgw_pass http://$mock;
            llmgw_pass_api_key file=$secrets/azure.key;
_EOC_

nginx_conf($dir, <<"_EOC_");
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;

    log_format required '\$uri \$status up=\$upstream_addr';

    llmgw_metrics_zone metrics:64k;

    server {
        listen 127.0.0.1:$port;

        access_log $dir/logs/access.log required;

        location /azure/ {
            llmgw_audit $sink;
            llmgw_audit_required on;
            llmgw_pass_strip_prefix /azure;
$azure
        }

        location /two/ {
            llmgw_audit /dev/full;
            llmgw_audit $dir/logs/good.log;
            llmgw_audit_required on;
            llmgw_pass_strip_prefix /two;
$azure
        }

        location /optional/ {
            llmgw_audit /dev/full;
            llmgw_pass_strip_prefix /optional;
$azure
        }

        location /auth/ {
            llmgw_audit $dir/logs/auth.log;
            llmgw_audit_required on;
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            root $dir/html;
            try_files /ok.txt =404;
        }

        location = /metrics {
            llmgw_metrics;
        }

        location /static/ {
            llmgw_audit /dev/full;
            llmgw_audit_required on;
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
my $PATH = '/openai/deployments/gpt-4o/chat/completions'
           . '?api-version=2024-10-21';
my $token = llmgw_token(sub => 'alice', scope => 'text');

sub chat {
    my ($prefix) = @_;
    return $http->request('POST', "http://127.0.0.1:$port$prefix$PATH",
                          { headers => { 'Content-Type' => 'application/json' },
                            content => $CHAT });
}


sub refused_ok {
    my ($r, $what) = @_;
    is($r->{status}, 503, "$what: 503");
    is($r->{headers}{'retry-after'}, '1', "$what: Retry-After: 1");
    like($r->{headers}{'content-type'} // '', qr{\Aapplication/json},
         "$what: a JSON body");
    my $body = eval { $json->decode($r->{content}) };
    is($body && $body->{error}{code}, 'audit_unavailable',
       "$what: error code audit_unavailable") or diag($r->{content});
}

# 1. the first request passes: nothing has failed yet; its line is lost
is(chat('/azure')->{status}, 200, 'a sink not yet failed: 200');

# 2. from then on the location is refused, the provider not called
my $lost = 1;
for my $i (1 .. 5) {
    refused_ok(chat('/azure'), "no sink accepts lines ($i)");
    $lost++;
}
# the access_log line of a request is written in its log phase, after
# the client has read the response: wait for all six (up to 10 s)
wait_log(10, "$dir/logs/access.log", qr{^/azure/}, 6);

my @access = grep { m{^/azure/} } split /\n/, slurp("$dir/logs/access.log");
is(scalar(grep { / 503 up=-$/ } @access), 5,
   'refused before the provider: no upstream for the 503s')
    or diag(join "\n", @access);

# every lost line counted, the report at most once a second
sleep(1.1);
refused_ok(chat('/azure'), 'still refused a second later');
$lost++;
# its line is lost in its log phase, after the response: wait (up to 10 s)
# for the report that counts it
wait_log(10, "$dir/logs/error.log",
         qr/lost: \d+ since the last report, $lost in all/, 1);

my @reports = grep { m{llmgw_audit: write\(\) to "\Q$sink\E" failed} }
              split /\n/, slurp("$dir/logs/error.log");
my %second;
$second{$_}++ for map { /^(\S+ \S+)/ } @reports;
ok(@reports >= 2 && !grep({ $_ > 1 } values %second),
   'reported at most once a second (' . scalar(@reports) . ' reports)')
    or diag(join "\n", @reports);
like($reports[-1] // '',
     qr/audit lines lost: \d+ since the last report, $lost in all/,
     "every lost line counted: $lost in all");
my $sum = 0;
$sum += $_ for map { /lost: (\d+) since/ ? $1 : 0 } @reports;
is($sum, $lost, 'the reports add up to the lines lost');
like($http->get("http://127.0.0.1:$port/metrics")->{content},
     qr/^llmgw_audit_write_failures_total $lost\n/m,
     "the metrics count the $lost lost lines");

# 3. one sink of two still works: no refusal
is(chat('/two')->{status}, 200, 'two sinks, one failing: 200');
is(chat('/two')->{status}, 200, 'two sinks, one failing: 200 again');
# the second line is written after its response: wait for it (up to 5 s)
my $good = 0;
for (1 .. 50) {
    $good = () = slurp("$dir/logs/good.log") =~ /\n/g;
    last if $good >= 2;
    sleep(0.1);
}
is($good, 2, 'the working sink has both lines');

# 4. llmgw_audit_required off: lines lost, calls go on
is(chat('/optional')->{status}, 200, 'not required: 200');
is(chat('/optional')->{status}, 200, 'not required: 200 again');

# 5. an llmgw_auth location without llmgw_pass: the same JSON 503
my $r = $http->get("http://127.0.0.1:$port/auth/x",
                   { headers => { Authorization => "Bearer $token" } });
is($r->{status}, 200, 'llmgw_auth location: first request 200');
refused_ok($http->get("http://127.0.0.1:$port/auth/x",
                      { headers => { Authorization => "Bearer $token" } }),
           'llmgw_auth location');

# 6. no llmgw in the location: no line, never refused
is($http->get("http://127.0.0.1:$port/static/x")->{status}, 200,
   'llmgw off: 200');
is($http->get("http://127.0.0.1:$port/static/x")->{status}, 200,
   'llmgw off: 200 again');

# 7. the sink works again: the next line finds it, then requests pass
unlink $sink or die $!;
open my $f, '>', "$dir/logs/real.log" or die $!;
close $f;
symlink "$dir/logs/real.log", $sink or die $!;
kill 'USR1', $pid;
# the worker has reopened its files once it says so, after the master
# (who signals it) said it too: up to 10 s
is(wait_log(10, "$dir/logs/error.log", qr/\d+#\d+: reopening logs$/, 2),
   2, 'USR1: the master and the worker reopened their files');

refused_ok(chat('/azure'), 'after the fix, until a line is written');
is(chat('/azure')->{status}, 200, 'a line written: 200 again');
is(chat('/azure')->{status}, 200, 'and again');

# a line is written in the log phase, after its response: wait for the
# last one (up to 5 s), never longer than it takes
my @lines;
for (1 .. 50) {
    @lines = map { $json->decode($_) } grep { length }
             split /\n/, slurp("$dir/logs/real.log");
    last if @lines >= 3;
    sleep(0.1);
}
is_deeply([ map { $_->{status} } @lines ], [503, 200, 200],
          'the refused request and the next ones recorded');

nginx_stop($pid);

done_testing();
