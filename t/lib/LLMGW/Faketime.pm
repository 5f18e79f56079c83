package LLMGW::Faketime;

# Copyright (C) llmgw authors
#
# nginx on a clock the test sets: started under libfaketime (Debian's
# faketime package) with its wall clock frozen at the time written in a
# file, which the test rewrites between requests (FAKETIME_NO_CACHE: read
# on every call; nginx's timers use the monotonic clock, left alone).  The
# workers keep the FAKETIME_* variables through "env" (nginx clears the
# environment of its workers).  Used by t/limit-window.t and
# t/limit-redis-window.t.
#
#     plan skip_all => ... unless -f $FAKETIME;
#     faketime_set($clock, '2026-01-31 14:59:58');
#     my ($dir, $port, $pid) = faketime_nginx($tz, $clock, $zones, $locs);
#     faketime_token('sub', '2026-01-31 14:59:58')   # issued then

use strict;
use warnings;

use Exporter 'import';
use POSIX qw(mktime);
use Test::More;
use LLMGW::Nginx;
use LLMGW::Test qw(llmgw_keys_dir llmgw_token);

our @EXPORT = qw($FAKETIME faketime_epoch faketime_set faketime_nginx
                 faketime_token);

our $FAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';


# "2026-01-31 14:59:58" (UTC) to epoch seconds
sub faketime_epoch {
    my ($y, $mo, $d, $h, $mi, $s) = $_[0] =~ /(\d+)/g;
    local $ENV{TZ} = 'UTC';
    POSIX::tzset();
    my $t = mktime($s, $mi, $h, $d, $mo - 1, $y - 1900);
    POSIX::tzset();
    return $t;
}


# the clock of every nginx started with $dir as its clock, at once
sub faketime_set {
    my ($dir, $when) = @_;

    open my $fh, '>', "$dir/clock.new" or die $!;
    print $fh "$when\n";
    close $fh;
    rename "$dir/clock.new", "$dir/clock" or die $!;
}


# An nginx of two workers in time zone $tz, its clock in $clock/clock;
# $zones: the http{} lines before the server (llmgw_limit_zone ...), the
# server's llmgw_auth jwt on the test keys, then $locations; html/ok.txt
# holds "ok".  (prefix, port, pid).
sub faketime_nginx {
    my ($tz, $clock, $zones, $locations) = @_;
    my $keys = llmgw_keys_dir();
    my $dir = nginx_prefix();
    my $port = free_port();

    nginx_conf($dir, <<"_EOC_", workers => 2,
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;
$zones    llmgw_limit_timezone $tz;

    server {
        listen 127.0.0.1:$port;
        llmgw_auth jwt;
        llmgw_jwt_keys $keys/jwks.json;
$locations
    }
_EOC_
        main => join('', map { "env $_;\n" }
                         qw(FAKETIME_TIMESTAMP_FILE FAKETIME_NO_CACHE
                            FAKETIME_DONT_FAKE_MONOTONIC)));

    open my $ok, '>', "$dir/html/ok.txt" or die $!;
    print $ok "ok\n";
    close $ok;

    local $ENV{LD_PRELOAD} = join ' ', grep { defined && length }
                                      $ENV{LD_PRELOAD}, $FAKETIME;
    local $ENV{FAKETIME_TIMESTAMP_FILE} = "$clock/clock";
    local $ENV{FAKETIME_NO_CACHE} = 1;
    local $ENV{FAKETIME_DONT_FAKE_MONOTONIC} = 1;
    local $ENV{TZ} = 'UTC';

    # an AddressSanitizer build (make asan): libfaketime is preloaded
    # ahead of the ASan runtime the binary links, which ASan would refuse
    local $ENV{ASAN_OPTIONS} = join ':', grep { defined && length }
                                   $ENV{ASAN_OPTIONS},
                                   'verify_asan_link_order=0';

    my $pid = nginx_start($dir, $port)
        or BAIL_OUT('nginx did not start: ' . (nginx_check($dir))[1]);

    return ($dir, $port, $pid);
}


# a token for a text scope issued at $when (UTC), valid three days
sub faketime_token {
    my ($sub, $when) = @_;

    return llmgw_token(sub => $sub, scope => 'text',
                       now => faketime_epoch($when), exp => 3 * 86400);
}


1;
