package LLMGW::Admin;

# Copyright (C) llmgw authors
#
# The admin API (llmgw_admin) as the plain Test::More suites call it: one
# token granting llmgw.admin (sub "ops"), calls with it or with any other
# token (none: no Authorization), on the one nginx of a suite
# (t/admin.t, t/admin-clients.t) or on a node of several
# (t/state-redis.t, t/clients-redis.t).  No keep-alive: every call is a
# connection of its own.
#
#     admin_at($port);                        # http://127.0.0.1:$port/admin
#     my ($s, $c, $r) = call('GET', '/system/health', $token);
#     my ($s, $c) = admin('PUT', '/clients/x', $body);   # admin_token()
#     node_admin($node, 'GET', 'clients')     # "STATUS BODY"

use strict;
use warnings;

use Exporter 'import';
use HTTP::Tiny;
use LLMGW::Test qw(llmgw_token);

our @EXPORT = qw(admin_token admin_at call admin node_admin);


my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 0);
my $base;
my $token;


# the token granting llmgw.admin itself, minted once
sub admin_token {
    return $token //= llmgw_token(sub => 'ops', scope => 'llmgw.admin');
}


# where call() and admin() send their paths: the API at $port
sub admin_at {
    my ($port) = @_;

    $base = "http://127.0.0.1:$port/admin";

    return $base;
}


# $method of $url with $token as its bearer and $body: (status, content,
# the HTTP::Tiny response)
sub _request {
    my ($method, $url, $token, $body) = @_;
    my %h;

    $h{Authorization} = "Bearer $token" if $token;

    my $r = $http->request($method, $url,
                           { headers => \%h,
                             defined $body ? (content => $body) : () });

    return ($r->{status}, $r->{content}, $r);
}


sub call {
    my ($method, $path, $token, $body) = @_;

    die "admin_at() was not called\n" unless defined $base;

    return _request($method, "$base$path", $token, $body);
}


sub admin {
    my ($method, $path, $body) = @_;

    return call($method, $path, admin_token(), $body);
}


# an admin call on a node ({ port => ... }), $path under /admin/ without
# its slash: "STATUS BODY"
sub node_admin {
    my ($node, $method, $path, $body) = @_;
    my ($s, $c) = _request($method,
                           "http://127.0.0.1:$node->{port}/admin/$path",
                           admin_token(), $body);

    return "$s $c";
}


1;
