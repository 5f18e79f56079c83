package PassClient;

# Copyright (C) llmgw authors
#
# A raw HTTP/1.1 client for the llmgw_pass suites, for what a
# Test::Nginx::Socket block cannot express: when each piece of a streamed
# response arrives, and whether a stream was cut short (no last chunk, fewer
# bytes than Content-Length) rather than completed.  Core Perl only; used
# from a block's "--- init" section, which runs once nginx is up, under the
# CPAN Test::Nginx and t/lib's runner alike.
#
#     my $r = PassClient::request(port => $port, method => 'POST',
#                                 path => '/azure-openai/...',
#                                 headers => ['X-Mock-Delay-Ms: 500'],
#                                 body => '{"stream":true,...}');
#
#     $r->{status}, $r->{headers}{'content-type'}, $r->{body} (decoded),
#     $r->{complete} (last chunk or whole Content-Length seen),
#     $r->{eof} (the server closed the connection), $r->{bursts}
#     (arrival time of each group of body bytes, seconds after sending)

use strict;
use warnings;

use Errno qw(EAGAIN EINTR EWOULDBLOCK);
use File::Temp ();
use IO::Select ();
use IO::Socket::INET ();
use Time::HiRes qw(time sleep);


# reads closer together than this belong to one burst
our $BURST_GAP = 0.15;


sub request {
    my (%a) = @_;

    my $timeout = $a{timeout} // 20;
    my $body = $a{body} // '';
    my $method = $a{method} // 'POST';

    my $sock = IO::Socket::INET->new(PeerAddr => $a{host} // '127.0.0.1',
                                     PeerPort => $a{port},
                                     Proto => 'tcp',
                                     Timeout => 5)
        or die "PassClient: cannot connect to port $a{port}: $!\n";

    $sock->blocking(0);

    my $req = "$method $a{path} HTTP/1.1\r\n"
              . "Host: localhost\r\n"
              . "Connection: close\r\n";

    for my $h (@{ $a{headers} // [] }) {
        $req .= "$h\r\n";
    }

    if (length $body || $method eq 'POST') {
        $req .= "Content-Length: " . length($body) . "\r\n";
    }

    $req .= "\r\n" . $body;

    my $sel = IO::Select->new($sock);
    my $start = time;
    my $off = 0;

    while ($off < length $req) {
        my @w = $sel->can_write($timeout);
        die "PassClient: timed out sending the request\n" if !@w;

        my $n = syswrite($sock, $req, length($req) - $off, $off);

        if (!defined $n) {
            next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
            die "PassClient: write failed: $!\n";
        }

        $off += $n;
    }

    my $sent = time;
    my ($raw, @reads, $eof, $timed_out) = ('');

    while (1) {
        my $left = $timeout - (time - $start);

        if ($left <= 0) {
            $timed_out = 1;
            last;
        }

        my @r = $sel->can_read($left);

        if (!@r) {
            next if $! == EINTR;
            $timed_out = 1;
            last;
        }

        my $n = sysread($sock, my $buf, 65536);

        if (!defined $n) {
            next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
            $eof = 'error';
            last;
        }

        if ($n == 0) {
            $eof = 'closed';
            last;
        }

        push @reads, [time - $sent, length($raw), $n];
        $raw .= $buf;
    }

    close $sock;

    my $res = { raw => $raw, eof => $eof, timed_out => $timed_out,
                elapsed => time - $sent };

    my $hend = index $raw, "\r\n\r\n";
    return $res if $hend < 0;

    my $head = substr $raw, 0, $hend;
    my $rest = substr $raw, $hend + 4;

    my @lines = split /\r\n/, $head;
    my $status_line = shift @lines;

    ($res->{status}) = $status_line =~ m{^HTTP/1\.[01] (\d{3})};

    for my $l (@lines) {
        my ($k, $v) = $l =~ /^([^:]+):\s*(.*)$/ or next;
        my $lk = lc $k;
        $res->{headers}{$lk} = exists $res->{headers}{$lk}
                               ? "$res->{headers}{$lk}, $v" : $v;
    }

    $res->{raw_headers} = $head;

    # arrival times of the body bytes, grouped into bursts

    my @bursts;
    my $body_start = $hend + 4;

    for my $rd (@reads) {
        my ($t, $pos, $n) = @$rd;
        next if $pos + $n <= $body_start;

        if (!@bursts || $t - $bursts[-1]{last} > $BURST_GAP) {
            push @bursts, { first => $t, last => $t };

        } else {
            $bursts[-1]{last} = $t;
        }
    }

    $res->{bursts} = [map { $_->{first} } @bursts];

    my $te = $res->{headers}{'transfer-encoding'} // '';
    my $cl = $res->{headers}{'content-length'};

    if (lc $te eq 'chunked') {
        my ($decoded, $complete) = dechunk($rest);
        $res->{body} = $decoded;
        $res->{complete} = $complete;
        $res->{framing} = 'chunked';

    } elsif (defined $cl) {
        $res->{body} = substr $rest, 0, $cl;
        $res->{complete} = length($rest) >= $cl ? 1 : 0;
        $res->{framing} = 'length';

    } else {
        $res->{body} = $rest;
        $res->{complete} = $eof && $eof eq 'closed' ? 1 : 0;
        $res->{framing} = 'close';
    }

    return $res;
}


# (decoded body, 1 when the last chunk was seen)
sub dechunk {
    my ($s) = @_;

    my $out = '';

    while (1) {
        my ($size, $rest) = $s =~ /\A([0-9a-fA-F]+)[^\r\n]*\r\n(.*)\z/s
            or return ($out, 0);

        my $n = hex $size;

        return ($out, 1) if $n == 0;

        return ($out . substr($rest, 0, $n), 0) if length($rest) < $n + 2;

        $out .= substr $rest, 0, $n;
        $s = substr $rest, $n + 2;
    }
}


# "nginx -t" of a configuration with the module loaded and the given text in
# a server{} block: (exit status, everything nginx printed).
sub nginx_t {
    my ($server, $http) = @_;

    my $dir = File::Temp::tempdir('llmgw-pass-t-XXXXXX', TMPDIR => 1,
                                  CLEANUP => 1);
    my $module = $ENV{TEST_NGINX_LOAD_MODULES} // '';
    my $nginx = $ENV{TEST_NGINX_BINARY} // 'nginx';

    mkdir "$dir/conf";
    mkdir "$dir/logs";

    open my $fh, '>', "$dir/conf/nginx.conf" or die "PassClient: $!\n";
    print $fh join '', map { "load_module $_;\n" } split ' ', $module;
    print $fh "pid $dir/logs/nginx.pid;\nerror_log $dir/logs/error.log;\n"
              . "events { worker_connections 16; }\n"
              . "http {\n    access_log off;\n" . ($http // '')
              . "\n    server {\n        listen 127.0.0.1:1;\n"
              . "$server\n    }\n}\n";
    close $fh;

    # "nginx -t" exits without freeing what it read: no leak check there
    local $ENV{ASAN_OPTIONS} = ($ENV{ASAN_OPTIONS} ? "$ENV{ASAN_OPTIONS}:" : '')
                               . 'detect_leaks=0';

    my $out = `'$nginx' -t -p '$dir/' -c '$dir/conf/nginx.conf' -e '$dir/logs/error.log' 2>&1`;

    return ($? >> 8, $out);
}


# What was written to the file after byte $pos (its size before).
sub log_since {
    my ($file, $pos) = @_;

    open my $fh, '<', $file or return '';
    seek $fh, $pos // 0, 0;
    local $/;
    my $s = <$fh>;
    close $fh;

    return $s // '';
}


# How often the pattern matches what was written after byte $pos, waiting
# up to $wait seconds for at least $n matches (log lines are written after
# the response).
sub count_since {
    my ($file, $pos, $re, $n, $wait) = @_;

    my $end = time + ($wait // 3);
    my $count;

    while (1) {
        my $s = log_since($file, $pos);
        $count = () = $s =~ /$re/g;

        return $count if $count >= $n || time > $end;

        sleep 0.1;
    }
}


# The first line of the file matching the pattern, waiting up to $wait
# seconds for it to be written (an access log line is written after the
# response).
sub wait_line {
    my ($file, $re, $wait) = @_;

    my $end = time + ($wait // 3);

    while (1) {
        if (open my $fh, '<', $file) {
            while (my $l = <$fh>) {
                return $l if $l =~ $re;
            }
            close $fh;
        }

        return undef if time > $end;

        sleep 0.1;
    }
}


1;
