# llmgw_audit with buffer= and flush= under load, chained: three workers,
# eight clients sending until told to stop, while the file is rotated
# (mv + USR1 to the master) four times.  Over all the rotated files, one
# valid JSON line for every request answered, and none twice; written by
# the flush timers with no traffic after the load (before nginx exits);
# each worker's last line in a rotated file is its reopen checkpoint;
# tools/llmgw-audit-verify passes the rotated set.  Then, on one
# keep-alive connection (one worker): a buffered line is written by the
# flush timer with no further traffic, and a full buffer is written at
# once, whole lines, when the next line does not fit.  Counts, not
# timings: every wait polls with a generous deadline.  Plain Test::More:
# files, signals, processes.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use HTTP::Tiny;
use Cwd qw(realpath);
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time sleep);
use LLMGW::Test qw(:all);
use LLMGW::Nginx qw(:DEFAULT slurp);

plan skip_all => 'TEST_NGINX_LOAD_MODULES is not set (t/run-tests.sh sets it)'
    unless $ENV{TEST_NGINX_LOAD_MODULES};

my $verify = '/usr/bin/python3 tools/llmgw-audit-verify';
my $keys = llmgw_keys_dir();
my $dir = realpath(nginx_prefix());   # as /proc/PID/fd names files
my $port = free_port();
my $log = "$dir/logs/load.log";
my $timer_log = "$dir/logs/timer.log";
my $full_log = "$dir/logs/full.log";
my $json = JSON::PP->new->utf8;

my $WORKERS = 3;
my $CLIENTS = 8;
my $ROTATIONS = 4;
my $FULL = 4096;       # the buffer of full.log
my $FLUSH = 3;         # the flush time of timer.log, s

write_file("$dir/chain.key", "audit-load-test-key-0123456789-abcdefghijk\n");
write_file("$dir/html/ok.txt", "ok\n");

nginx_conf($dir, <<"_EOC_", workers => $WORKERS);
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;

    llmgw_audit_chain key=$dir/chain.key;
    llmgw_audit_zone audit:64k;

    server {
        listen 127.0.0.1:$port;
        root $dir/html;

        location /load/ {
            llmgw_audit $log buffer=8k flush=300ms;
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            try_files /ok.txt =404;
        }

        location /timer/ {
            llmgw_audit $timer_log buffer=64k flush=${FLUSH}s;
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            try_files /ok.txt =404;
        }

        location /full/ {
            llmgw_audit $full_log buffer=$FULL flush=1h;
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            try_files /ok.txt =404;
        }

        # no llmgw: a request after an audited one on the same keep-alive
        # connection is read only once the audited one has been logged
        location = /barrier {
            return 204;
        }
    }
_EOC_

my ($ok, $out) = nginx_check($dir);
ok($ok, 'nginx -t') or diag($out);

my $pid = nginx_start($dir, $port) or BAIL_OUT('nginx did not start');
my $token = llmgw_token(sub => 'alice', scope => 'text');
my $auth = { headers => { Authorization => "Bearer $token" } };

ok(poll(30, sub { workers($pid) == $WORKERS }), "$WORKERS workers");


# 1. load while the file is rotated

my $stop = "$dir/stop";
my @kids;

for my $c (1 .. $CLIENTS) {
    my $kid = fork() // die "fork: $!";

    if ($kid == 0) {
        # half the clients keep their connection, half open one a
        # request, so that every worker gets requests
        my $http = HTTP::Tiny->new(timeout => 60, keep_alive => $c % 2);
        my ($n, $bad) = (0, 0);

        until (-e $stop) {
            my $i = $n + $bad + 1;
            my $r = $http->get("http://127.0.0.1:$port/load/r?c=$c&i=$i",
                               $auth);
            if ($r->{status} == 200) {
                $n++;
            } else {
                $bad++;
            }
        }

        write_file("$dir/client.$c", "$n $bad\n");
        POSIX::_exit(0);    # not File::Temp's END: the prefix stays
    }

    push @kids, $kid;
}

# the clients under way before the first rotation
ok(poll(60, sub { (() = request_lines($log)) >= 50 }),
   'load: lines written before the first rotation');

my $under_load = 0;

for my $k (1 .. $ROTATIONS) {
    rename $log, "$log.$k" or die "rename: $!";
    kill 'USR1', $pid;

    # every worker writes the new file: its reopen checkpoint ended the
    # old one
    ok(poll(30, sub { reopened($pid, $log) }),
       "rotation $k: every worker reopened the file");

    $under_load++ unless grep { waitpid($_, POSIX::WNOHANG()) } @kids;
    sleep 0.5;
}

write_file($stop, '');
waitpid($_, 0) for @kids;

is($under_load, $ROTATIONS, 'every rotation under load');

my ($sent, $failed) = (0, 0);
my %sent;

for my $c (1 .. $CLIENTS) {
    my ($n, $bad) = split ' ', slurp("$dir/client.$c");
    $sent += $n;
    $failed += $bad;
    $sent{"$c $_"} = 1 for 1 .. $n;
}

is($failed, 0, "load: every request answered 200 ($sent)");
ok($sent >= 200, "load: requests sent ($sent)");

my @files = ((map { "$log.$_" } 1 .. $ROTATIONS), $log);

# the last lines are in the workers' buffers: their flush timers write
# them with no traffic, nginx still running
ok(poll(30, sub { (() = map { request_lines($_) } @files) >= $sent }),
   'load: the flush timers wrote the buffered lines');

my %seen;
my ($lines, $invalid, $cut, $twice, $unknown) = (0, 0, 0, 0, 0);

for my $f (@files) {
    for my $l (lines($f)) {
        $cut++ unless $l =~ /\n\z/;
        my $rec = eval { $json->decode($l) };
        if (!$rec) {
            $invalid++;
            next;
        }
        next if ($rec->{type} // '') eq 'checkpoint';
        $lines++;
        my ($c, $i) = $rec->{path} =~ m{\A/load/r\?c=(\d+)&i=(\d+)\z};
        my $key = defined $c ? "$c $i" : '';
        $unknown++ unless $sent{$key};
        $twice++ if $seen{$key}++;
    }
}

is($invalid, 0, 'load: every line is JSON');
is($cut, 0, 'load: every line whole');
is($lines, $sent, 'load: lines counted over the rotated files = requests '
                  . 'sent, before exit');
is($twice, 0, 'load: no request twice');
is($unknown, 0, 'load: no line for a request not sent');

nginx_stop($pid);

is(scalar(map { request_lines($_) } @files), $sent,
   'load: the same count after exit');

# each worker's last line in a rotated file is its reopen checkpoint
my $bad_end = 0;
my $chains = 0;

for my $k (1 .. $ROTATIONS) {
    my %last;
    for my $l (lines("$log.$k")) {
        my $rec = $json->decode($l);
        $last{$rec->{chain}} = $rec;
    }
    $chains += keys %last;
    $bad_end += grep { ($_->{type} // '') ne 'checkpoint' } values %last;
}

is($bad_end, 0, "load: every chain of a rotated file ends with its reopen "
                . "checkpoint ($chains chain ends)");
ok($chains >= $ROTATIONS * $WORKERS, 'load: every worker in every file');

my ($rc, $o) = run("$dir/chain.key", @files);
is($rc, 0, 'load: llmgw-audit-verify passes the rotated set') or diag($o);
like($o, qr/^OK: \d+ lines, $WORKERS chains intact$/m,
     "load: $WORKERS chains, across the reopens") or diag($o);


# 2. the flush timer and a full buffer, on one keep-alive connection (one
# worker)

unlink @files, $timer_log, $full_log;
$pid = nginx_start($dir, $port) or BAIL_OUT('nginx did not start again');

my $http = HTTP::Tiny->new(timeout => 60, keep_alive => 1);

# the workers' start checkpoints out first: they set the timer too
ok(poll(30, sub { (() = lines($timer_log)) >= $WORKERS }),
   'timer: the start checkpoints written');

my $t0 = time;
is(logged($http, '/timer/one'), 200, 'timer: answered');
is(scalar(request_lines($timer_log)), 0,
   'timer: the line is in the buffer, not the file');
ok(poll($FLUSH + 30, sub { request_lines($timer_log) == 1 }),
   'timer: the line written with no further traffic');
my $took = time - $t0;
ok($took >= $FLUSH - 0.5, sprintf('timer: by the timer, after %.2f s', $took));
diag(sprintf 'flush=%ds: the line was written %.2f s after the request',
     $FLUSH, $took);

# a full buffer: nothing until the line that does not fit, then the
# lines before it at once
my ($m, $before) = (0, '');

for my $i (1 .. 40) {
    is(logged($http, "/full/r?i=$i"), 200, "full: request $i") or last;
    $before = slurp($full_log);
    if (length $before) {
        $m = $i;
        last;
    }
}

ok($m >= 2, "full: written at request $m");
ok(length($before) <= $FULL, 'full: no more than the buffer at once ('
                             . length($before) . ' bytes)');
like($before, qr/\A(?:[^\n]+\n)+\z/, 'full: whole lines');

my @before = lines_of($before);
my @mine = map { $json->decode($_) } @before;
is(scalar(grep { !defined $_->{type} } @mine), $m - 1,
   'full: the requests before the one that did not fit');

nginx_stop($pid);

# at exit the rest: the line that did not fit is the next of the chain
my $chain = $mine[0]{chain};
my @chain = grep { $json->decode($_)->{chain} eq $chain } lines($full_log);
is(join('', @chain[0 .. $#before]), $before,
   'full: the first write was the first lines of the chain');
my $next = $chain[@before] // '';
is($json->decode($next || '{}')->{path}, "/full/r?i=$m",
   "full: the next line is request ${m}'s");
ok(length($before) + length($next) > $FULL,
   'full: it did not fit (' . length($before) . ' + ' . length($next)
   . " > $FULL)");

my @alerts = grep { /\[(alert|emerg|crit)\]/ }
             split /\n/, slurp("$dir/logs/error.log");
is_deeply(\@alerts, [], 'no alert');

done_testing();


# an audited request then the barrier on the same connection: the
# audited one's log phase has run; its status
sub logged {
    my ($http, $path) = @_;
    my $r = $http->get("http://127.0.0.1:$port$path", $auth);
    my $b = $http->get("http://127.0.0.1:$port/barrier");
    die "barrier: $b->{status}" unless $b->{status} == 204;
    return $r->{status};
}

# calls $cond every 50 ms until it is true or $secs have passed
sub poll {
    my ($secs, $cond) = @_;
    my $end = time + $secs;

    while (time < $end) {
        return 1 if $cond->();
        sleep 0.05;
    }

    return $cond->();
}

# the worker processes of the master $pid
sub workers {
    my ($master) = @_;
    my @w;

    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $s = <$fh> // '';
        close $fh;
        my ($p, $ppid) = $s =~ /\A(\d+) \(.*\) \S+ (\d+) /s or next;
        push @w, $p if $ppid == $master;
    }

    return @w;
}

# every worker has $file (by that name) open
sub reopened {
    my ($master, $file) = @_;
    my @w = workers($master);

    return 0 unless @w == $WORKERS;

    for my $w (@w) {
        return 0 unless grep { (readlink($_) // '') eq $file }
                        glob "/proc/$w/fd/*";
    }

    return 1;
}

sub request_lines {
    return grep { !/"type":"checkpoint"/ } lines(@_);
}

sub run {
    my @args = @_;
    my $o = qx{$verify @args 2>&1};
    return ($? >> 8, $o);
}

sub lines {
    my ($file) = @_;
    open my $fh, '<:raw', $file or return ();
    my @l = <$fh>;
    close $fh;
    return @l;
}

sub lines_of {
    my ($s) = @_;
    return $s =~ /([^\n]*\n)/g;
}

sub write_file {
    my ($file, $data) = @_;
    open my $fh, '>:raw', "$file.tmp" or die "$file: $!";
    print $fh $data;
    close $fh;
    chmod 0644, "$file.tmp";
    rename "$file.tmp", $file or die "$file: $!";
}
