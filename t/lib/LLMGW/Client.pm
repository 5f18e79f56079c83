package LLMGW::Client;

# Copyright (C) llmgw authors
#
# A raw HTTP/1.1 client for the plain Test::More suites that need what
# HTTP::Tiny hides: the response exactly as nginx wrote it, a request
# sent by hand on a socket kept open (a stream read in part, a client that
# leaves), many sockets at once.  Every request says "Connection: close"
# and a response is read to the end of the connection.  Core Perl only.
#
#     my $req = client_post_request($path, $token, $body,
#                                   'x-mock-events' => 3);
#     my $res = client_send($port, $req);     # the response, as it came
#     client_status($res)                     # '200', or 'none'
#     client_get($port, $path, $token)        # { status, h => {}, body }
#     client_burst(200, $path, $token, @ports)  # { 200 => 50, 429 => 150 }

use strict;
use warnings;

use Exporter 'import';
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time);

our @EXPORT = qw(client_post_request client_get_request client_connect
                 client_send client_get client_burst client_burst_send
                 client_status client_read_until);


# a POST of a JSON body with a bearer token; extra headers sorted by name
sub client_post_request {
    my ($path, $token, $body, %h) = @_;
    my $extra = join '', map { "$_: $h{$_}\r\n" } sort keys %h;

    return "POST $path HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
           . "Authorization: Bearer $token\r\n"
           . "Content-Type: application/json\r\n"
           . "Content-Length: " . length($body) . "\r\n$extra\r\n$body";
}


sub client_connect {
    my ($port) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Timeout => 10)
        or die "connect to 127.0.0.1:$port: $!";

    return $s;
}


sub client_get_request {
    my ($path, $token) = @_;

    return "GET $path HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
           . "Authorization: Bearer $token\r\n\r\n";
}


# the whole response to a request, '' when the connection gave nothing
sub client_send {
    my ($port, $req) = @_;
    my $s = client_connect($port);

    print $s $req;
    local $/;
    my $res = <$s> // '';
    close $s;

    return $res;
}


# a GET with a bearer token: the status, the headers by lowercased name
# (the last of a name), the body
sub client_get {
    my ($port, $path, $token) = @_;
    my $res = client_send($port, client_get_request($path, $token));

    my ($head, $body) = split /\r\n\r\n/, $res, 2;
    my ($status) = $head =~ m{\AHTTP/1\.1 (\d{3})};
    my %h;

    for (split /\r\n/, $head) {
        $h{lc $1} = $2 if /^([^:]+): (.*)$/;
    }

    return { status => $status, h => \%h, body => $body };
}


# n GETs at once on n connections spread over the ports; the count of
# each status
sub client_burst {
    my ($n, $path, $token, @ports) = @_;

    return client_burst_send($n, client_get_request($path, $token), @ports);
}


# the request $req sent n times at once on n connections spread over the
# ports, every one written before any response is read; the count of each
# status
sub client_burst_send {
    my ($n, $req, @ports) = @_;
    my (@socks, %status);

    for my $i (1 .. $n) {
        push @socks, client_connect($ports[$i % @ports]);
    }

    for my $s (@socks) {
        print $s $req;
    }

    for my $s (@socks) {
        local $/;
        my $res = <$s> // '';
        $status{client_status($res)}++;
        close $s;
    }

    return \%status;
}


sub client_status {
    my ($res) = @_;

    return ($res =~ m{\AHTTP/1\.1 (\d{3})})[0] // 'none';
}


# what the socket gave until $re matched it, $secs passed (10 unless
# told) or the connection ended: the rest stays to be read
sub client_read_until {
    my ($s, $re, $secs) = @_;
    my $got = '';
    my $sel = IO::Select->new($s);
    my $deadline = time() + ($secs // 10);

    while ($got !~ $re && time() < $deadline) {
        last unless $sel->can_read(1);
        sysread($s, $got, 4096, length $got) or last;
    }

    return $got;
}


1;
