# The account state across nodes (llmgw_state_redis): two nginx on one
# redis-server of this suite's own.  A change made through node A's admin
# API (POST /admin/tokens/revoke and /admin/tokens/unrevoke with a token
# granting llmgw.admin) is refused on node B within 1 s; B cut off from
# Redis (its
# ACL user switched off and its connections killed) while A publishes,
# then let back, catches up from the stream without a resync; the stream
# trimmed meanwhile -> a full resync from the snapshot hash; the worker
# reading the stream killed -> another takes over; Redis stopped for
# longer than stale= -> B (on_stale=refuse) answers 503 with Retry-After,
# A (serve) keeps serving, C (within:text) serves a location requiring
# text and answers 503 for one requiring video or no scope, until the
# stream is read again; on_stale=within: naming no scope of llmgw_scopes
# refused by nginx -t; GET /admin/system/health's stream_lag_ms on B
# small while B reads the stream, over stale= while Redis is away, null on
# a node without llmgw_state_redis; a single node restarted keeps what its
# admin API acknowledged (the journal).  Plain Test::More: processes
# stopped and killed.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use HTTP::Tiny;
use Digest::SHA qw(sha256_hex);
use Time::HiRes qw(time sleep);
use File::Temp ();
use IO::Socket::INET;
use LLMGW::Test qw(:all);
use LLMGW::Nginx qw(:DEFAULT slurp);
use LLMGW::Redis qw(redis_start redis_stop redis_cmd);
use LLMGW::Admin qw(node_admin);
use JSON::PP;

plan skip_all => 'TEST_NGINX_LOAD_MODULES is not set (t/run-tests.sh sets it)'
    unless $ENV{TEST_NGINX_LOAD_MODULES};
plan skip_all => 'TEST_NGINX_MOCK_SECRETS is not set (t/run-tests.sh sets it)'
    unless $ENV{TEST_NGINX_MOCK_SECRETS};
plan skip_all => 'redis-server is not installed'
    unless grep { -x "$_/redis-server" } split /:/, $ENV{PATH};

my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 0);
my $keys = llmgw_keys_dir();
my $secrets = $ENV{TEST_NGINX_MOCK_SECRETS};
my $stream = 'llmgw:t';
my $now = time;
my $exp = int($now) + 3600;


sub gateway {
    my ($redis, %opt) = @_;
    my $conf = sub {
        my ($dir, $port) = @_;
        my $up = free_port();

        return <<"_EOC_";
    @{[ $redis ? "llmgw_redis $redis backoff=50ms:200ms;" : '' ]}
    llmgw_state_zone state:1m;
    @{[ $opt{state} // '' ]}
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;
    llmgw_token_cache_zone tokens:1m;

    llmgw_scopes {
        all     text video;
        text    claude;
        admin   llmgw.admin;
    }

    server {
        listen 127.0.0.1:$up;
        location / { return 200 "up\\n"; }
    }

    server {
        listen 127.0.0.1:$port;

        location /openai/ {
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            llmgw_provider openai;
            llmgw_api_scope chat claude;
            llmgw_api_scope audio.speech video;
            llmgw_pass_api_key file=$secrets/openai.key;
            llmgw_pass_strip_prefix /openai;
            llmgw_pass http://127.0.0.1:$up;
        }

        location = /t {
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            alias $dir/html/ok.txt;
        }

        location = /claude {
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            llmgw_require_scope claude;
            alias $dir/html/ok.txt;
        }

        location = /video {
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            llmgw_require_scope video;
            alias $dir/html/ok.txt;
        }

        location /admin/ {
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            llmgw_require_scope llmgw.admin;
            llmgw_state off;
            llmgw_admin;
        }
    }
_EOC_
    };

    return nginx_node($conf, workers => 2)
           // BAIL_OUT('nginx did not start');
}

sub get {
    my ($node, $token, $path) = @_;
    $path //= '/t';
    my $r = $http->get("http://127.0.0.1:$node->{port}$path",
                       { headers => { Authorization => "Bearer $token" } });
    diag("$r->{status}: $r->{content}") if $r->{status} == 599;
    return $r;
}

sub status { get(@_)->{status} }

# POST an API call through llmgw_pass: its status
sub api {
    my ($node, $token, $path) = @_;
    my $r = $http->request('POST', "http://127.0.0.1:$node->{port}$path",
                           { headers => { Authorization => "Bearer $token",
                                          'Content-Type' =>
                                              'application/json' },
                             content => '{}' });
    diag("$r->{status}: $r->{content}") if $r->{status} == 599;
    return $r;
}

# POST /tokens/revoke or /tokens/unrevoke with the JSON of %what
sub publish {
    my ($node, $path, %what) = @_;
    return node_admin($node, 'POST', "tokens/$path",
                 JSON::PP->new->canonical->encode(\%what));
}

sub revoke {
    my ($node, $jti) = @_;
    return publish($node, 'revoke', jti => $jti, exp => $exp);
}

# the answer to revoking $jti until $exp
sub revoked {
    my ($jti) = @_;
    return '200 {"revoked":{"jti_sha256":"' . sha256_hex($jti)
           . "\",\"exp\":$exp}}\n";
}

# GET /system/health's stream_lag_ms: a number, "null", or the answer
sub lag {
    my ($node) = @_;
    my $r = node_admin($node, 'GET', 'system/health');
    return $r =~ /\A200 \{.*,"stream_lag_ms":(\d+|null)\}\n\z/ ? $1 : $r;
}

sub count_lines {
    my ($node, $re) = @_;
    return scalar(() = slurp($node->{log}) =~ /$re/g);
}

# the processes whose parent is $pid
sub children {
    my ($pid) = @_;
    my @kids;

    for my $stat (glob '/proc/[0-9]*/stat') {
        my $s = slurp($stat);
        push @kids, $1 if $s =~ /\A(\d+) \(.*\) \S (\d+) / && $2 == $pid;
    }

    return @kids;
}

sub reader {
    my ($node) = @_;
    my @pids = slurp($node->{log})
               =~ /llmgw state: worker (\d+) reads the stream/g;
    return $pids[-1];
}


# --- two nodes on one Redis ------------------------------------------------

my $rdir = File::Temp::tempdir('llmgw-redis-XXXXXX', TMPDIR => 1,
                               CLEANUP => 1);
my @rargs = (args => ['--appendonly', 'yes', '--appendfsync', 'always']);
my $r = redis_start(dir => $rdir, @rargs);
my $rport = $r->{port};

is(redis_cmd($rport, 'ACL', 'SETUSER', 'nodeb', 'on', '>nodeb-secret', '~*',
             '&*', '+@all'), 'OK', 'an ACL user for node B');

open my $pf, '>', "$rdir/nodeb.pass" or die;
print $pf "nodeb-secret\n";
close $pf;

my $na = gateway("127.0.0.1:$rport",
                state => "llmgw_state_redis stream=$stream poll=50ms "
                         . "resync=off stale=1s on_stale=serve;");
my $nb = gateway("127.0.0.1:$rport user=nodeb "
                . "password=file=$rdir/nodeb.pass",
                state => "llmgw_state_redis stream=$stream poll=50ms "
                         . "resync=off stale=3s on_stale=refuse;");

my $nc = gateway("127.0.0.1:$rport",
                state => "llmgw_state_redis stream=$stream poll=50ms "
                         . "resync=off stale=3s on_stale=within:text;");

for my $n ([A => $na], [B => $nb], [C => $nc]) {
    ok(wait_for(5, sub { slurp($n->[1]{log}) =~ /full resync .* done/ }),
       "node $n->[0]: a worker read the snapshot at start");
}

is(count_lines($nb, qr/reads the stream/), 1, 'node B: one worker reads');

# the health's stream lag: B reads every 50 ms (each worker answers)

for my $i (1 .. 4) {
    my $lag = lag($nb);
    like($lag, qr/\A\d+\z/, "B's stream_lag_ms is a number ($i)")
        and cmp_ok($lag, '<', 500, "B's stream_lag_ms under 500 ms ($i)");
}

# 1. propagation: revoked on A, refused on B within 1 s

my @ms;

for my $i (1 .. 5) {
    my $t = llmgw_token(sub => 'U1', jti => "prop-$i", exp => 3600);

    is(status($nb, $t), 200, "B accepts prop-$i before") if $i == 1;
    status($nb, $t);   # cached on B: revocation is checked after the cache

    my $t0 = time;
    is(revoke($na, "prop-$i"), revoked("prop-$i"),
       "A's admin API revokes prop-$i");
    is(status($na, $t), 401, "A refuses prop-$i at once") if $i == 1;

    my $seen = wait_for(2, sub { status($nb, $t) == 401 });
    push @ms, (time - $t0) * 1000;
    ok($seen, "B refuses prop-$i");
}

@ms = sort { $a <=> $b } @ms;
cmp_ok($ms[-1], '<', 1000, 'B refused each within 1 s of the publish');
diag(sprintf 'propagation A -> B: %.0f to %.0f ms', $ms[0], $ms[-1]);

like(get($nb, llmgw_token(sub => 'U1', jti => 'prop-1', exp => 3600))
     ->{headers}{'www-authenticate'},
     qr/error="invalid_token", error_description="token revoked"/,
     'the refusal on B: invalid_token, token revoked');

# the other kinds, and a removal

my $old = llmgw_token(sub => 'U2', exp => 3600, iat => -60);
is(status($nb, $old), 200, 'B accepts U2 before the log-out')
    or diag explain get($nb, $old)->{headers};
like(publish($na, 'revoke', sub => 'U2'),
     qr/\A200 \{"revoked":\{"sub":"U2","not_before":\d+\}\}\n\z/,
     'A logs U2 out everywhere');
ok(wait_for(10, sub { status($nb, $old) == 401 }), 'B refuses U2\'s old token');

my $app = llmgw_token(sub => 'U3', exp => 3600,
                      claims => { client_id => 'app-x' });
is(publish($na, 'revoke', client_id => 'app-x'),
   qq(200 {"revoked":{"client_id":"app-x"}}\n), 'A revokes client app-x');
ok(wait_for(10, sub { status($nb, $app) == 401 }), 'B refuses app-x');
is(publish($na, 'unrevoke', client_id => 'app-x'),
   qq(200 {"unrevoked":{"client_id":"app-x"}}\n), 'A lets app-x back');
ok(wait_for(10, sub { status($nb, $app) == 200 }), 'B accepts app-x again');

is(redis_cmd($rport, 'HGET', "$stream:snapshot", 'c:app-x'), undef,
   'the snapshot forgot app-x');
like(redis_cmd($rport, 'HGET', "$stream:snapshot", 's:U2'),
     qr/\A\{"subject":"U2","not_before":\d+\}\z/,
     'a snapshot value is the state file\'s line');

# 2. B cut off; changes on A; B back: caught up from the stream, no resync

my $resyncs = count_lines($nb, qr/full resync .* done/);

# tokens made before: minting one takes a few hundred ms
my @gap = map { llmgw_token(sub => 'U4', jti => "gap-$_", exp => 3600) }
          1 .. 3;
my $trim = llmgw_token(sub => 'U5', jti => 'trimmed', exp => 3600);

is(redis_cmd($rport, 'ACL', 'SETUSER', 'nodeb', 'off'), 'OK',
   'B\'s user switched off');
redis_cmd($rport, 'CLIENT', 'KILL', 'USER', 'nodeb');
ok(wait_for(10,
            sub { slurp($nb->{log}) =~ /llmgw_redis: connection to .* lost/ }),
   'B lost its connection');

for my $i (1 .. 3) {
    is(revoke($na, "gap-$i"), revoked("gap-$i"), "A revokes gap-$i");
}

sleep 0.3;
is(status($nb, $gap[0]), 200, 'B, cut off, still accepts gap-1')
    or diag get($nb, $gap[0])->{content};

is(redis_cmd($rport, 'ACL', 'SETUSER', 'nodeb', 'on'), 'OK',
   'B\'s user back on');
ok(wait_for(5, sub { !grep { status($nb, $_) != 401 } @gap }),
   'B refuses gap-1 .. gap-3 once back');
is(count_lines($nb, qr/full resync .* done/), $resyncs,
   'from the stream: no full resync');

# 3. B cut off, the stream trimmed past B's last entry: a full resync

redis_cmd($rport, 'ACL', 'SETUSER', 'nodeb', 'off');
redis_cmd($rport, 'CLIENT', 'KILL', 'USER', 'nodeb');
sleep 0.3;

is(revoke($na, 'trimmed'), revoked('trimmed'), 'A revokes "trimmed"');
is(redis_cmd($rport, 'XTRIM', $stream, 'MAXLEN', '0') > 0, 1,
   'the stream trimmed to nothing');
is(status($nb, $trim), 200, 'B, cut off, accepts "trimmed"');

redis_cmd($rport, 'ACL', 'SETUSER', 'nodeb', 'on');
ok(wait_for(5, sub { status($nb, $trim) == 401 }),
   'B refuses "trimmed": from the snapshot');
like(slurp($nb->{log}), qr/trimmed past the last entry read: full resync/,
     'B says why it resynced');
is(count_lines($nb, qr/full resync .* done/), $resyncs + 1, 'one resync');
is(status($nb, $gap[2]), 401, 'what B had stays');

# 4. the reading worker killed: another takes over

my $reader = reader($nb);
ok($reader, "B's reader is worker $reader");
kill 'KILL', $reader;

ok(wait_for(6, sub { my $p = reader($nb); $p && $p != $reader }),
   'another worker reads the stream');

my $after = llmgw_token(sub => 'U6', jti => 'after-kill', exp => 3600);
is(revoke($na, 'after-kill'), revoked('after-kill'),
   'A revokes after-kill');
ok(wait_for(1, sub { status($nb, $after) == 401 }),
   'B refuses it within 1 s');

# 5. Redis away for longer than stale=: B refuses, A serves

my $fresh = llmgw_token(sub => 'U7', exp => 3600);
my $every = llmgw_token(sub => 'U9', exp => 3600, scope => 'all');
is(status($nb, $fresh), 200, 'B accepts U7 while fresh');

for my $path ('/claude', '/video', '/t') {
    is(get($nc, $every, $path)->{status}, 200, "C serves $path while fresh");
}

for my $path ('/openai/v1/chat/completions', '/openai/v1/audio/speech') {
    is(api($nc, $every, $path)->{status}, 200,
       "C passes $path while fresh");
}

redis_stop($r);
sleep 3.5;

my $res = get($nb, $fresh);
is($res->{status}, 503, 'B: 503 once stale (on_stale=refuse)');
is($res->{headers}{'retry-after'}, '1', 'with Retry-After: 1');
like($res->{content}, qr/account state stale/, 'the reason in the body');
is(status($na, $fresh), 200, 'A serves (on_stale=serve)');
like(slurp($nb->{log}), qr/llmgw state stream not read for over 3000 ms: tokens refused/,
     'B\'s log says so');

# C (within:text): claude is below text; video and no scope are not

is(get($nc, $every, '/claude')->{status}, 200,
   'C serves /claude (claude is below text) while stale');

for my $path ('/video', '/t') {
    $res = get($nc, $every, $path);
    is($res->{status}, 503, "C: 503 for $path while stale (within:text)");
    is($res->{headers}{'retry-after'}, '1', "$path: with Retry-After: 1");
    is($res->{content}, '{"error":{"code":"service_unavailable","message":'
                        . '"account state stale: only scopes within '
                        . '\\"text\\" served"}}' . "\n",
       "$path: the reason in the body");
}

# the API's scope, from llmgw_api_scope: chat needs claude, speech video

is(api($nc, $every, '/openai/v1/chat/completions')->{status}, 200,
   'C passes chat (its API scope claude is below text) while stale');
$res = api($nc, $every, '/openai/v1/audio/speech');
is($res->{status}, 503, 'C: 503 for audio.speech (API scope video) while stale');
is($res->{content}, '{"error":{"code":"service_unavailable","message":'
                    . '"account state stale: only scopes within '
                    . '\\"text\\" served"}}' . "\n",
   'audio.speech: the reason in the body');

like(slurp($nc->{log}), qr/llmgw state stream not read for over 3000 ms: scopes above on_stale's refused/,
     'C\'s log says so');

my $stale = lag($nb);
like($stale, qr/\A\d+\z/, 'B\'s health answers while stale (llmgw_state off)')
    and cmp_ok($stale, '>', 3000, 'B\'s stream_lag_ms over stale= (3000)');

$r = redis_start(dir => $rdir, port => $rport, @rargs);
redis_cmd($rport, 'ACL', 'SETUSER', 'nodeb', 'on', '>nodeb-secret', '~*',
          '&*', '+@all');
ok(wait_for(5, sub { status($nb, $fresh) == 200 }),
   'Redis back: B serves again');
ok(wait_for(5, sub { get($nc, $every, '/video')->{status} == 200 }),
   'Redis back: C serves /video again');
is(get($nc, $every, '/t')->{status}, 200, 'and /t');
is(get($nc, $every, '/claude')->{status}, 200, 'and /claude');
is(api($nc, $every, '/openai/v1/audio/speech')->{status}, 200,
   'and audio.speech through llmgw_pass');
cmp_ok(lag($nb), '<', 500, 'B\'s stream_lag_ms small again');
is(status($nb, $after), 401, 'and still refuses after-kill');

nginx_stop($na->{pid});
nginx_stop($nb->{pid});
nginx_stop($nc->{pid});

for my $n ([A => $na], [B => $nb], [C => $nc]) {
    my $log = slurp($n->[1]{log});
    $log =~ s/^.*\[alert\].*worker process $reader exited on signal 9\n//m;
    unlike($log, qr/\[(?:alert|crit|emerg)\]|signal 11/,
           "node $n->[0]: no alert, crash or emerg (but the kill -9)");
}

redis_stop($r);

# --- on_stale=within: checked against llmgw_scopes by nginx -t ----------

for my $t (['within:video', 1, ''],
           ['within:nosuch', 0,
            qr/"llmgw_state_redis": on_stale=within:nosuch names no scope of "llmgw_scopes"/],
           ['within:', 0, qr/invalid parameter "on_stale=within:"/],
           ['below:text', 0, qr/invalid parameter "on_stale=below:text"/])
{
    my $dir = nginx_prefix();

    nginx_conf($dir, <<"_EOC_");
    llmgw_redis 127.0.0.1:$rport;
    llmgw_state_zone state:1m;
    llmgw_state_redis on_stale=$t->[0];
    llmgw_scopes {
        all     text video;
    }
_EOC_

    my ($ok, $out) = nginx_check($dir);

    if ($t->[1]) {
        ok($ok, "nginx -t accepts on_stale=$t->[0]") or diag $out;
    } else {
        ok(!$ok, "nginx -t refuses on_stale=$t->[0]");
        like($out, $t->[2], "on_stale=$t->[0]: nginx says why");
    }
}

# --- one node: the journal ---------------------------------------------------

my $c = gateway(undef, state => 'llmgw_state_file state.jsonl;');
my $state = "$c->{dir}/state.jsonl";
my $kept = llmgw_token(sub => 'U8', jti => 'kept', exp => 3600);

is(status($c, $kept), 200, 'one node: accepted before');
is(revoke($c, 'kept'), revoked('kept'), 'one node: revoked');
is(lag($c), 'null', 'one node: no stream, stream_lag_ms null');
is(status($c, $kept), 401, 'one node: refused');
is(slurp("$state.journal"),
   '{"jti_hash":"' . sha256_hex('kept') . "\",\"exp\":$exp}\n",
   'the journal has the line when the publish answered');

# a crash: the master and its workers killed, nothing written at exit
kill 'KILL', $c->{pid}, children($c->{pid});
waitpid($c->{pid}, 0);
ok(wait_for(5, sub { !IO::Socket::INET->new("127.0.0.1:$c->{port}") }),
   'one node: down');

$c->{pid} = nginx_start($c->{dir}, $c->{port})
    or BAIL_OUT('nginx did not restart');
is(status($c, $kept), 401, 'one node restarted: still refused');
like(slurp($state), qr/"jti_hash":"@{[ sha256_hex('kept') ]}"/,
     'the journal folded into the state file at start');
is(-s "$state.journal", 0, 'and the journal emptied');

nginx_stop($c->{pid});

done_testing();
