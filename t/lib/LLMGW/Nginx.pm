package LLMGW::Nginx;

# Copyright (C) llmgw authors
#
# A bare nginx for the plain Test::More suites (t/config.t, t/sdk.t): a
# temporary prefix, a configuration with the module loaded, start, stop;
# a node of the suites that run several (t/state-redis.t).
# Test::Nginx serves the block-format suites; these need what it cannot
# do (nginx -t on bad configurations, a HUP, an external client).

use strict;
use warnings;

use Exporter ();
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX ();
use Time::HiRes ();

our @ISA = ('Exporter');
our @EXPORT = qw(nginx_prefix nginx_conf nginx_check nginx_start nginx_stop
                 nginx_node free_port wait_port wait_for wait_log);
our @EXPORT_OK = qw(slurp);


sub nginx_binary {
    return $ENV{TEST_NGINX_BINARY} || 'nginx';
}


# a prefix nginx's workers (nobody) can read: logs/, html/
sub nginx_prefix {
    my $dir = tempdir('llmgw-nginx-XXXXXX', TMPDIR => 1, CLEANUP => 1);

    chmod 0755, $dir;
    mkdir "$dir/logs";
    mkdir "$dir/html";

    return $dir;
}


# the whole nginx.conf around an http{} body, written to $dir/nginx.conf;
# options: workers => N (worker_processes, 1 by default), main => TEXT
# (directives of the main context, e.g. "env NAME;")
sub nginx_conf {
    my ($dir, $http, %opt) = @_;
    my $workers = $opt{workers} // 1;
    my $main = $opt{main} // '';
    my $load = join '', map { "load_module $_;\n" }
                        split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} // '');

    open my $fh, '>', "$dir/nginx.conf" or die "$dir/nginx.conf: $!";
    print $fh <<"_EOC_";
${load}error_log $dir/logs/error.log info;
pid $dir/logs/nginx.pid;
daemon off;
master_process on;
worker_processes $workers;
$main
events { worker_connections 256; }
http {
    access_log $dir/logs/access.log;
    client_body_temp_path $dir/tmp_body;
    proxy_temp_path $dir/tmp_proxy;
    fastcgi_temp_path $dir/tmp_fcgi;
    uwsgi_temp_path $dir/tmp_uwsgi;
    scgi_temp_path $dir/tmp_scgi;
$http
}
_EOC_
    close $fh;
}


# nginx -t: (ok, what nginx and its error log said).  nginx -t exits
# without freeing its cycle: no leak detection for it under ASan.
sub nginx_check {
    my ($dir) = @_;
    my $nginx = nginx_binary();

    local $ENV{ASAN_OPTIONS} = join ':', grep { defined && length }
                                   $ENV{ASAN_OPTIONS}, 'detect_leaks=0';

    my $out = `$nginx -t -p $dir -c $dir/nginx.conf -e $dir/logs/error.log 2>&1`;
    my $ok = $? == 0;
    my $log = '';

    if (open my $lf, '<', "$dir/logs/error.log") {
        local $/;
        $log = <$lf>;
        close $lf;
        truncate "$dir/logs/error.log", 0;
    }

    return ($ok, $out . $log);
}


# starts nginx in the foreground of a child; the pid, once $port answers
# and the pid file names this nginx (written after its listening sockets
# are open: a port answering for another server, taken between
# free_port() and nginx's bind(), is not taken for ours); undef when it
# exited or did not come up within 20 s
sub nginx_start {
    my ($dir, $port) = @_;
    my $pid = fork() // die "fork: $!";
    my $end = Time::HiRes::time() + 20;

    if ($pid == 0) {
        { exec nginx_binary(), '-p', $dir, '-c', "$dir/nginx.conf", '-e',
               "$dir/logs/error.log" };
        POSIX::_exit(127);
    }

    while (Time::HiRes::time() < $end) {
        return undef if waitpid($pid, POSIX::WNOHANG()) == $pid;
        return $pid if _pid_file($dir) == $pid
                       && IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port");
        Time::HiRes::sleep(0.05);
    }

    return undef;
}


sub _pid_file {
    my ($dir) = @_;

    open my $fh, '<', "$dir/logs/nginx.pid" or return 0;
    my $pid = <$fh> // '';
    close $fh;

    return $pid =~ /^(\d+)$/ ? $1 : 0;
}


# a node of a suite that runs several: a prefix with html/ok.txt ("ok"),
# the http{} body that $conf->($dir, $port) returns, nginx_conf's options,
# started; { pid, port, dir, log } (its error log), or undef
sub nginx_node {
    my ($conf, %opt) = @_;
    my $dir = nginx_prefix();
    my $port = free_port();

    open my $fh, '>', "$dir/html/ok.txt" or die "$dir/html/ok.txt: $!";
    print $fh "ok\n";
    close $fh;

    nginx_conf($dir, $conf->($dir, $port), %opt);

    my $pid = nginx_start($dir, $port) or return undef;

    return { pid => $pid, port => $port, dir => $dir,
             log => "$dir/logs/error.log" };
}


sub nginx_stop {
    my ($pid) = @_;

    kill 'QUIT', $pid;
    waitpid($pid, 0);
}


# A port nothing listens on, not handed out before in this process, and
# below the kernel's ephemeral range: a port of that range (what port 0
# gives) may become the source port of any client connection on the
# machine between this call and nginx's bind(), which then fails.
my %given;

sub free_port {
    my $below = _ephemeral_low();

    for (1 .. 500) {
        my $port = $below > 12000 ? 10000 + int rand($below - 10000)
                                  : 0;
        next if $port && $given{$port};

        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                      LocalPort => $port, Listen => 1)
            or next;
        $port = $s->sockport;
        close $s;
        next if $given{$port}++;
        return $port;
    }

    die "free_port: no free port\n";
}


# the first port of the kernel's ephemeral range (32768 when unknown)
sub _ephemeral_low {
    open my $fh, '<', '/proc/sys/net/ipv4/ip_local_port_range'
        or return 32768;
    my ($low) = (<$fh> // '') =~ /^(\d+)/;
    close $fh;

    return $low // 32768;
}


# up to 20 s: a loaded machine may take seconds to start nginx's workers
sub wait_port {
    my ($port) = @_;

    for (1 .. 400) {
        return 1 if IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port");
        select(undef, undef, undef, 0.05);
    }

    return 0;
}


# waits up to $secs for $cond->() to be true, trying every $step seconds
# (0.02 by default: a condition that sends requests counts them); true if
# it was
sub wait_for {
    my ($secs, $cond, $step) = @_;
    my $end = Time::HiRes::time() + $secs;

    while (Time::HiRes::time() < $end) {
        return 1 if $cond->();
        Time::HiRes::sleep($step // 0.02);
    }

    return $cond->();
}


# a file's bytes; '' when it cannot be read (not there yet)
sub slurp {
    my ($path) = @_;

    open my $fh, '<:raw', $path or return '';
    local $/;
    my $s = <$fh>;
    close $fh;

    return $s // '';
}


# waits up to $secs for $file to hold at least $n lines matching $re (a
# line a worker writes after the response its client has read); the count
# of those lines then, to be asserted by the caller
sub wait_log {
    my ($secs, $file, $re, $n) = @_;
    my $count = 0;

    wait_for($secs, sub {
        my $fh;
        $count = 0;
        open $fh, '<', $file or return 0;
        while (<$fh>) {
            $count++ if $_ =~ $re;
        }
        close $fh;
        return $count >= $n;
    }, 0.05);

    return $count;
}


1;
