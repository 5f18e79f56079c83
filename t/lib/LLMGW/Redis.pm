package LLMGW::Redis;

# Copyright (C) llmgw authors
#
# Redis for the plain Test::More suites: a redis-server of the suite's
# own on a free port (to stop, restart or slow without disturbing the one
# t/run-tests.sh starts), and a small RESP client.  Core Perl only.
#
#     my $r = redis_start(args => ['--requirepass', 'pw']);
#     redis_cmd($r->{port}, {auth => ['pw']}, 'PING');     # 'PONG'
#     redis_stop($r);  redis_start(port => $r->{port});    # a restart

use strict;
use warnings;

use Exporter 'import';
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes ();
use LLMGW::Nginx qw(free_port);

our @EXPORT_OK = qw(redis_start redis_stop redis_cmd redis_conn redis_send
                    redis_read redis_library redis_sleep);


# a redis-server in the foreground of a child: { pid, port, dir }
sub redis_start {
    my (%opt) = @_;
    my $port = $opt{port} // free_port();
    my $dir = $opt{dir} // tempdir('llmgw-redis-XXXXXX', TMPDIR => 1,
                                   CLEANUP => 1);
    my @args = ('--bind', '127.0.0.1', '--port', $port, '--save', '',
                '--appendonly', 'no', '--dir', $dir, '--daemonize', 'no',
                '--logfile', "$dir/redis.log", @{ $opt{args} // [] });

    my $pid = fork() // die "fork: $!";

    if ($pid == 0) {
        { exec 'redis-server', @args };
        POSIX::_exit(127);
    }

    my $r = { pid => $pid, port => $port, dir => $dir,
              args => $opt{args} // [] };

    for (1 .. 100) {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port");
        return $r if $s;
        select(undef, undef, undef, 0.05);
    }

    redis_stop($r);
    die "redis-server did not start on $port\n";
}


sub redis_stop {
    my ($r) = @_;

    return unless $r->{pid};

    kill 'TERM', $r->{pid};
    waitpid($r->{pid}, 0);
    $r->{pid} = undef;
}


sub redis_conn {
    my ($port, $opt) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 5)
        or die "redis 127.0.0.1:$port: $!\n";

    if ($opt && $opt->{auth}) {
        redis_send($s, 'AUTH', @{ $opt->{auth} });
        my $ok = redis_read($s);
        die "AUTH: $ok->{err}\n" if ref $ok;
    }

    return $s;
}


sub redis_send {
    my ($s, @args) = @_;
    my $cmd = '*' . @args . "\r\n";

    $cmd .= '$' . length($_) . "\r\n$_\r\n" for @args;
    print $s $cmd;
}


# a reply: a string, an integer, undef (nil), an array reference, or
# { err => TEXT } for an error reply
sub redis_read {
    my ($s) = @_;
    my $line = <$s>;

    die "redis: connection closed\n" unless defined $line;
    $line =~ s/\r\n\z//;

    my ($t, $v) = (substr($line, 0, 1), substr($line, 1));

    return $v if $t eq '+' || $t eq ':';
    return { err => $v } if $t eq '-';

    if ($t eq '$') {
        return undef if $v < 0;
        my $buf = '';
        read($s, $buf, $v + 2) == $v + 2 or die "redis: short read\n";
        return substr($buf, 0, $v);
    }

    if ($t eq '*') {
        return undef if $v < 0;
        return [ map { redis_read($s) } 1 .. $v ];
    }

    die "redis: bad reply \"$line\"\n";
}


# one command on a connection of its own; options: auth => [user?, pw]
sub redis_cmd {
    my ($port, @args) = @_;
    my $opt = ref $args[0] eq 'HASH' ? shift @args : undef;
    my $s = redis_conn($port, $opt);

    redis_send($s, @args);
    my $reply = redis_read($s);
    close $s;

    return $reply;
}



# DEBUG SLEEP $secs sent on a connection of its own, returned once Redis
# is seen asleep (a PING on another connection unanswered for 50 ms), not
# a guessed instant later: on a loaded machine Redis may take longer to
# read it.  The caller reads the sleeper's 'OK' when Redis wakes.
sub redis_sleep {
    my ($port, $secs) = @_;
    my $sleeper = redis_conn($port);
    my $end = Time::HiRes::time() + 10;

    redis_send($sleeper, 'DEBUG', 'SLEEP', $secs);

    while (Time::HiRes::time() < $end) {
        my $p = redis_conn($port);

        redis_send($p, 'PING');
        my $asleep = !IO::Select->new($p)->can_read(0.05);
        close $p;

        return $sleeper if $asleep;
    }

    die "redis: DEBUG SLEEP $secs: Redis never seen asleep\n";
}


# The llmgw library as nginx loads it, from the C string literals of
# src/ngx_http_llmgw_redis_lib.c: (Function library text, EVAL script).
sub redis_library {
    my ($root) = @_;
    my $file = ($root // '.') . '/src/ngx_http_llmgw_redis_lib.c';
    my (%lit, $src);

    open my $fh, '<', $file or die "$file: $!\n";
    { local $/; $src = <$fh>; }
    close $fh;

    while ($src =~ /static const char\s+(\w+)\[\] =((?:\s*"(?:[^"\\]|\\.)*")+);/g)
    {
        my ($name, $body, $text) = ($1, $2, '');

        $text .= $1 while $body =~ /"((?:[^"\\]|\\.)*)"/g;
        $text =~ s/\\(n|"|\\)/$1 eq 'n' ? "\n" : $1/ge;
        $lit{$name} = $text;
    }

    my $p = 'ngx_http_llmgw_redis_lib_';

    return ($lit{"${p}head"} . $lit{"${p}common"} . $lit{"${p}register"},
            $lit{"${p}common"} . $lit{"${p}dispatch"});
}


1;
