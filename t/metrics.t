# llmgw_metrics: a known sequence of requests (allowed, 401, 403 with
# their reasons, the provider's 500, a stream whose usage the mock
# reports, models and departments past their bounds) and the exact
# counters the exposition shows, read with a strict parser of the text
# format 0.0.4; the endpoint protected by llmgw_auth; the counters kept
# across a reload (HUP); nginx -t refusals.  Plain Test::More: a HUP.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use HTTP::Tiny;
use LLMGW::Test qw(:all);
use LLMGW::Nginx;
use POSIX ();

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


# A strict reader of the text exposition format 0.0.4: every line a HELP,
# a TYPE or a sample; a family's TYPE before its samples, once; samples
# of a family together; label values with only \\, \" and \n escapes;
# no series twice; a histogram's buckets cumulative, ending with +Inf
# equal to its _count.  Returns { 'name{a="x",b="y"}' => value } (labels
# sorted, values unescaped) or dies naming the line.

sub parse_metrics {
    my ($text) = @_;
    my (%type, %help, %seen, %done, %out, %hist);
    my $current = '';
    my $n = 0;

    die "no final newline\n" unless $text =~ /\n\z/;

    for my $line (split /\n/, $text) {
        $n++;
        my $where = "line $n: \"$line\"";

        if ($line =~ /\A# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)\z/) {
            die "HELP twice, $where\n" if $help{$1}++;
            die "bad escape in HELP, $where\n"
                if $2 =~ /\\[^\\n]/ || $2 =~ /\\\z/;
            next;
        }

        if ($line =~ /\A\#\ TYPE\ ([a-zA-Z_:][a-zA-Z0-9_:]*)
                       \ (counter|gauge|histogram|summary|untyped)\z/x)
        {
            die "TYPE twice, $where\n" if $type{$1};
            die "TYPE after samples, $where\n" if $done{$1} || $seen{$1};
            $type{$1} = $2;
            $done{$current} = 1 if $current ne '';
            $current = $1;
            next;
        }

        die "a comment or blank line, $where\n" if $line =~ /\A(#|\z)/;

        $line =~ /\A([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?
                  \ (-?[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?|[+-]Inf|NaN)\z/x
            or die "not a sample, $where\n";

        my ($name, $labels, $value) = ($1, $3 // '', $4);
        my %l;

        while (length $labels) {
            $labels =~ s/\A([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"//
                or die "bad labels, $where\n";
            my ($k, $v) = ($1, $2);
            die "label $k twice, $where\n" if exists $l{$k};
            $v =~ s/\\(.)/$1 eq 'n' ? "\n" : $1/ge;
            $l{$k} = $v;
            last unless length $labels;
            $labels =~ s/\A,// or die "bad label separator, $where\n";
            die "trailing comma, $where\n" unless length $labels;
        }

        my $family = $name;
        $family =~ s/_(bucket|sum|count)\z//
            if !$type{$name} && $type{$name =~ s/_(bucket|sum|count)\z//r};
        die "sample without TYPE, $where\n" unless $type{$family};
        die "sample out of its family, $where\n" if $family ne $current;
        $seen{$family} = 1;

        my $key = $name . '{' . join(',', map { "$_=\"$l{$_}\"" }
                                          sort keys %l) . '}';
        die "series twice, $where\n" if exists $out{$key};
        $out{$key} = $value;

        next unless $type{$family} eq 'histogram';

        my %base = %l;
        my $le = delete $base{le};
        my $id = $family . '{' . join(',', map { "$_=\"$base{$_}\"" }
                                           sort keys %base) . '}';

        if ($name =~ /_bucket\z/) {
            die "bucket without le, $where\n" unless defined $le;
            my $h = $hist{$id} //= { last => -1, prev => 0 };
            die "buckets after +Inf, $where\n" if $h->{inf};
            my $bound = $le eq '+Inf' ? 9**9**9 : $le;
            die "le not ascending, $where\n" if $bound <= $h->{last};
            die "bucket not cumulative, $where\n" if $value < $h->{prev};
            @$h{qw(last prev)} = ($bound, $value);
            $h->{inf} = $value if $le eq '+Inf';

        } elsif ($name =~ /_count\z/) {
            die "count before +Inf, $where\n"
                unless defined $hist{$id}{inf};
            die "count is not +Inf, $where\n" if $value != $hist{$id}{inf};
        }
    }

    return \%out;
}


# the parser refuses what it must
for my $bad ("x 1",
             "# TYPE x counter\nx{a=\"b\\q\"} 1\n",
             "# TYPE x counter\nx{a=\"b\"\"} 1\n",
             "# TYPE x counter\nx 1\nx 2\n",
             "# TYPE x counter\nx{a=\"1\",} 1\n",
             "# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
             . "h_bucket{le=\"+Inf\"} 1\nh_count 1\n",
             "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 1\n",
             "x 1\n")
{
    ok(!eval { parse_metrics($bad); 1 }, "the parser refuses: $bad");
}


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
        all     text metrics;
        text    openai.text openai.stt;
    }

    llmgw_audit_department_claim custom:department;

    llmgw_metrics_zone metrics:1m;
    llmgw_metrics_departments finance "r&d \\"lab\\" a\\\\b";
    llmgw_metrics_models first=1 gpt-4o;

    server {
        listen 127.0.0.1:$port;

        location /azure/ {
$azure
        }

        location /plain/ {
            return 204;
        }

        location = /metrics {
            llmgw_metrics;
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            llmgw_require_scope metrics;
        }
    }
_EOC_

my $pid = nginx_start($dir, $port) or BAIL_OUT('nginx did not start');
my $http = HTTP::Tiny->new(timeout => 10);

my $CHAT = '{"messages":[{"role":"user","content":"one two three"}]}';
my $STREAM = '{"stream":true,"stream_options":{"include_usage":true},'
             . '"messages":[{"role":"user","content":"one two"}]}';
my $Q = '?api-version=2024-10-21';

sub chat_path { "/azure/openai/deployments/$_[0]/chat/completions$Q" }

my $finance = llmgw_token(sub => 'alice', scope => 'text',
                          claims => { 'custom:department' => 'finance' });
my $lab = llmgw_token(sub => 'bob', scope => 'text',
                      claims => { 'custom:department' => 'r&d "lab" a\\b' });
my $sales = llmgw_token(sub => 'carol', scope => 'text',
                        claims => { 'custom:department' => 'sales' });
my $nodept = llmgw_token(sub => 'dave', scope => 'text');
my $weak = llmgw_token(sub => 'eve', scope => 'openai.stt');
my $scraper = llmgw_token(sub => 'prometheus', scope => 'metrics');

sub request {
    my ($method, $path, $token, %h) = @_;
    my $body = delete $h{body};
    $h{Authorization} = "Bearer $token" if defined $token;
    $h{'Content-Type'} = 'application/json' if defined $body;
    return $http->request($method, "http://127.0.0.1:$port$path",
                          { headers => \%h,
                            defined $body ? (content => $body) : () });
}

sub scrape {
    my $r = request('GET', '/metrics', $scraper);
    is($r->{status}, 200, 'scrape: 200') or diag($r->{content});
    is($r->{headers}{'content-type'}, 'text/plain; version=0.0.4',
       'scrape: the format\'s content type');
    my $m = eval { parse_metrics($r->{content}) };
    ok($m, 'scrape: the exposition parses') or diag($@, $r->{content});
    return ($m // {}, $r->{content});
}

# 1. allowed, not streamed: finance, gpt-4o (listed); 3 in, 6 out
is(request('POST', chat_path('gpt-4o'), $finance, body => $CHAT)->{status},
   200, 'allowed: 200');

# 2. allowed, streamed, the usage chunk: r&d "lab" a\b; 2 in, 4 out
my $r = request('POST', chat_path('gpt-4o'), $lab, body => $STREAM,
                'X-Mock-Events' => 4);
is($r->{status}, 200, 'streamed: 200');
like($r->{content}, qr/"usage":\{"prompt_tokens":2,"completion_tokens":4,/,
     'streamed: the usage chunk');

# 3. a department not listed (sales): other; the first unlisted model
#    (gpt-4o-mini) takes the one place of first=1; cached and reasoning
is(request('POST', chat_path('gpt-4o-mini'), $sales, body => $CHAT,
           'X-Mock-Usage-Details' => 'cached=2,reasoning=1')->{status},
   200, 'sales, gpt-4o-mini: 200');

# 4. the second unlisted model: other; no department claim: empty
is(request('POST', chat_path('o1'), $nodept, body => $CHAT)->{status},
   200, 'no department, o1: 200');

# 5. no token: 401; twice
for (1 .. 2) {
    is(request('POST', chat_path('gpt-4o'), undef, body => $CHAT)->{status},
       401, 'no token: 401');
}

# 6. a token without the scope: 403
is(request('POST', chat_path('gpt-4o'), $weak, body => $CHAT)->{status},
   403, 'scope: 403');

# 7. the provider's 500: allowed, 5xx, no usage
is(request('POST', chat_path('gpt-4o'), $finance, body => $CHAT,
           'X-Mock-Fault' => 'status-500')->{status},
   500, 'provider 500');

# 8. not an llmgw location: not counted
is(request('GET', '/plain/')->{status}, 204, 'plain: 204');

# 9. the endpoint is protected like any location
$r = request('GET', '/metrics');
is($r->{status}, 401, 'metrics without a token: 401');
like($r->{headers}{'www-authenticate'}, qr/\ABearer /,
     'metrics without a token: a challenge');
is(request('GET', '/metrics', $finance)->{status}, 403,
   'metrics without its scope: 403');
is(request('POST', '/metrics', $scraper)->{status}, 405,
   'metrics: POST not allowed');

select(undef, undef, undef, 0.2);

my ($m, $text) = scrape();

my $P = 'provider="azure_openai"';
my %expect = (
    # 1-4 allowed 2xx, 7 allowed 5xx
    "llmgw_requests_total{decision=\"allow\",$P,status_class=\"2xx\"}" => 4,
    "llmgw_requests_total{decision=\"allow\",$P,status_class=\"5xx\"}" => 1,
    "llmgw_requests_total{decision=\"deny\",$P,status_class=\"4xx\"}" => 3,
    # the endpoint's own: 401, 403, 405 (allowed, then refused)
    'llmgw_requests_total{decision="deny",provider="",status_class="4xx"}'
        => 2,
    'llmgw_requests_total{decision="allow",provider="",status_class="4xx"}'
        => 1,

    'llmgw_denials_total{reason="missing bearer token",status="401"}' => 3,
    'llmgw_denials_total{reason="insufficient scope",status="403"}' => 2,

    # 1 and 2: gpt-4o; finance and r&d "lab" a\b
    "llmgw_tokens_total{department=\"finance\",model=\"gpt-4o\",$P,"
        . 'type="input"}' => 3,
    "llmgw_tokens_total{department=\"finance\",model=\"gpt-4o\",$P,"
        . 'type="output"}' => 6,
    "llmgw_tokens_total{department=\"r&d \"lab\" a\\b\",model=\"gpt-4o\","
        . "$P,type=\"input\"}" => 2,
    "llmgw_tokens_total{department=\"r&d \"lab\" a\\b\",model=\"gpt-4o\","
        . "$P,type=\"output\"}" => 4,
    # 3: sales as other, gpt-4o-mini admitted
    "llmgw_tokens_total{department=\"other\",model=\"gpt-4o-mini\",$P,"
        . 'type="input"}' => 3,
    "llmgw_tokens_total{department=\"other\",model=\"gpt-4o-mini\",$P,"
        . 'type="output"}' => 6,
    "llmgw_tokens_total{department=\"other\",model=\"gpt-4o-mini\",$P,"
        . 'type="cache_read_input"}' => 2,
    "llmgw_tokens_total{department=\"other\",model=\"gpt-4o-mini\",$P,"
        . 'type="reasoning_output"}' => 1,
    # 4: o1 as other, no department
    "llmgw_tokens_total{department=\"\",model=\"other\",$P,"
        . 'type="input"}' => 3,
    "llmgw_tokens_total{department=\"\",model=\"other\",$P,"
        . 'type="output"}' => 6,

    # five calls reached the provider
    "llmgw_upstream_response_seconds_count{$P}" => 5,
    "llmgw_upstream_response_seconds_bucket{le=\"+Inf\",$P}" => 5,
    "llmgw_upstream_first_byte_seconds_count{$P}" => 5,
    "llmgw_upstream_first_byte_seconds_bucket{le=\"+Inf\",$P}" => 5,
    "llmgw_upstream_first_byte_seconds_bucket{le=\"600\",$P}" => 5,

    'llmgw_audit_write_failures_total{}' => 0,
    'llmgw_metrics_series_dropped_total{}' => 0,
);

for my $k (sort keys %expect) {
    is($m->{$k}, $expect{$k}, $k);
}

my @series = grep { !/_(bucket|sum|count)\{/ } keys %$m;
is(scalar @series, 19, 'no other series: 5 requests, 2 denials, '
                       . '10 tokens, 2 counters')
    or diag(join "\n", sort @series);

ok($m->{"llmgw_upstream_response_seconds_sum{$P}"} >= 0
   && $m->{"llmgw_upstream_response_seconds_sum{$P}"} < 30,
   'upstream seconds summed');

like($text, qr/^# TYPE llmgw_upstream_response_seconds histogram\n/m,
     'histogram TYPE');
like($text, qr/^llmgw_tokens_total\{provider="azure_openai",model="gpt-4o",
                type="input",department="r&d\ \\"lab\\"\ a\\\\b"\}\ 2$/mx,
     'label values escaped in the text');
unlike($text, qr/alice|bob|carol|dave|eve/, 'no user in any label');

# a HEAD: the header alone
$r = request('HEAD', '/metrics', $scraper);
is($r->{status}, 200, 'HEAD: 200');
is($r->{content} // '', '', 'HEAD: no body');
ok($r->{headers}{'content-length'} > 1000, 'HEAD: the length of the text');

# 10. a reload: the counters stay, the new workers add to them
kill 'HUP', $pid;
# once the old worker has exited (up to 20 s), the new one alone serves:
# it runs a request's log phase (its counts) before it reads the next
ok(wait_log(20, "$dir/logs/error.log",
            qr/worker process \d+ exited with code 0/, 1),
   'reload: the old worker exited');

is(request('POST', chat_path('gpt-4o'), $finance, body => $CHAT)->{status},
   200, 'after the reload: 200');
select(undef, undef, undef, 0.2);

my ($after) = scrape();

is($after->{"llmgw_requests_total{decision=\"allow\",$P,"
            . 'status_class="2xx"}'}, 5, 'reload: requests kept and added');
is($after->{"llmgw_tokens_total{department=\"finance\",model=\"gpt-4o\","
            . "$P,type=\"output\"}"}, 12, 'reload: tokens kept and added');
is($after->{'llmgw_denials_total{reason="missing bearer token",'
            . 'status="401"}'}, 3,
   'reload: denials kept');
# the scrapes and the HEAD before: allowed 2xx on the endpoint
is($after->{'llmgw_requests_total{decision="allow",provider="",'
            . 'status_class="2xx"}'}, 2, 'reload: the scrapes counted');

nginx_stop($pid);

# two workers, four clients at once: every update counted, once

my $dir2 = nginx_prefix();
my $port2 = free_port();

nginx_conf($dir2, <<"_EOC_", workers => 2);
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;
    llmgw_metrics_zone metrics2:64k;

    server {
        listen 127.0.0.1:$port2;

        location /denied/ {
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
        }

        location = /metrics {
            llmgw_metrics;
        }
    }
_EOC_

my $pid2 = nginx_start($dir2, $port2)
    or BAIL_OUT('nginx did not start: ' . (nginx_check($dir2))[1]);
my @kids;

for my $k (1 .. 4) {
    my $kid = fork() // die "fork: $!";

    if ($kid == 0) {
        my $h = HTTP::Tiny->new(timeout => 10, keep_alive => 0);
        my $bad = 0;

        for my $i (1 .. 100) {
            $bad++ if $h->get("http://127.0.0.1:$port2/denied/$k/$i")
                        ->{status} != 401;
        }

        POSIX::_exit($bad ? 1 : 0);
    }

    push @kids, $kid;
}

my $kids_ok = 0;

for my $kid (@kids) {
    waitpid($kid, 0);
    $kids_ok++ if $? == 0;
}

is($kids_ok, 4, 'four clients, 100 requests each, all 401');
select(undef, undef, undef, 0.2);

$r = $http->get("http://127.0.0.1:$port2/metrics");
my $m2 = eval { parse_metrics($r->{content}) };
ok($m2, 'two workers: the exposition parses') or diag($@);
is($m2->{'llmgw_requests_total{decision="deny",provider="",'
          . 'status_class="4xx"}'}, 400, 'two workers: 400 requests');
is($m2->{'llmgw_denials_total{reason="missing bearer token",'
          . 'status="401"}'}, 400, 'two workers: 400 denials');

nginx_stop($pid2);

# nginx -t refusals

my $t = nginx_prefix();

for my $case (
    [ "server { listen 127.0.0.1:$port; location /m { llmgw_metrics; } }",
      qr/"llmgw_metrics" requires "llmgw_metrics_zone"/ ],
    [ 'llmgw_metrics_departments a;',
      qr/requires "llmgw_metrics_zone"/ ],
    [ "llmgw_metrics_zone m:1m;\n    llmgw_metrics_zone n:1m;",
      qr/"llmgw_metrics_zone" directive is duplicate/ ],
    [ 'llmgw_metrics_zone m;', qr/invalid zone "m", expected name:size/ ],
    [ "llmgw_metrics_zone m:1m;\n    llmgw_metrics_models first=x a;",
      qr/invalid parameter "first=x"/ ],
    [ "llmgw_metrics_zone m:1m;\n    llmgw_metrics_models a;\n"
      . "    llmgw_metrics_models b;",
      qr/"llmgw_metrics_models" directive is duplicate/ ],
    [ "llmgw_metrics_zone m:1m;\n    llmgw_metrics_departments \"a\\tb\";",
      qr/invalid label value "a\tb": a control character/ ],
    [ "llmgw_metrics_zone m:1m;\n    llmgw_metrics_departments "
      . ('x' x 129) . ';',
      qr/longer than 128 bytes/ ],
    [ "llmgw_metrics_zone m:1m;\n    llmgw_token_cache_zone m:1m;",
      qr/shared memory zone "m" is already declared for a different use/ ])
{
    nginx_conf($t, $case->[0]);
    my ($ok, $out) = nginx_check($t);
    ok(!$ok, "nginx -t refuses: $case->[0]");
    like($out, $case->[1], "... saying so");
}

nginx_conf($t, "llmgw_metrics_zone m:1m;\n"
               . "    llmgw_metrics_models first=0 gpt-4o o1;\n"
               . "    server { listen 127.0.0.1:$port;\n"
               . "        location = /metrics { llmgw_metrics; } }");
my ($ok, $out) = nginx_check($t);
ok($ok, 'nginx -t accepts first=0 and a zone') or diag($out);

done_testing();
