package LLMGW::LogPhase;

# Copyright (C) llmgw authors
#
# For the block-format suites whose --- error_log (or grep_error_log_out)
# expects a line of the log phase: an access_log line, a usage or audit
# line.  A request with a body ends in a lingering close: nginx shuts its
# side, the client reads the end of the response and closes, and only
# then does nginx run the log phase.  Both runners read the error log a
# fixed 45 ms (TEST_NGINX_SLEEP * 3) after the response, which a loaded
# machine can exceed.  This registers a response body check (run by both
# runners after the response, before the error log is read) that waits,
# up to 10 s, until every expected line is in the log; it asserts
# nothing: the runner's own check judges what is there then.
#
#     use Test::Nginx::Socket;
#     use LLMGW::LogPhase;

use strict;
use warnings;

use Time::HiRes ();

my $DEADLINE = 10;


sub import {
    Test::Nginx::Socket::add_response_body_check(\&wait_expected);
}


# the lines of the error log the runner will read for this request
sub _log_lines {
    no warnings 'once';

    my $file = $Test::Nginx::Util::ErrLogFile;
    my $pos = $Test::Nginx::Util::ErrLogFilePos // 0;

    open my $in, '<', $file or return [];
    seek $in, $pos, 0 if $pos > 0;
    my @lines = <$in>;
    close $in;

    return \@lines;
}


# the value of a section for request $idx: per request when an array of
# arrays (or of strings, for grep_error_log_out)
sub _for_request {
    my ($v, $idx, $per_string) = @_;

    return $v unless ref $v eq 'ARRAY';
    return $v->[$idx] if $per_string || (@$v && ref $v->[0] eq 'ARRAY');
    return $v;
}


# (a section's accessor in list context is an empty list when the block
# has no such section: the arguments after it would slide into its place,
# hence scalar)
sub _patterns {
    my ($block, $idx) = @_;
    my $v = _for_request(scalar $block->error_log, $idx);

    return () unless defined $v;
    return @$v if ref $v eq 'ARRAY';
    return $v if ref $v;
    return grep { length } split /\n+/, $v;
}


sub _seen {
    my ($lines, $pat) = @_;

    for my $l (@$lines) {
        return 1 if ref $pat ? $l =~ $pat : index($l, $pat) >= 0;
    }

    return 0;
}


sub _grep_count {
    my ($lines, $pat) = @_;
    my $n = 0;

    for my $l (@$lines) {
        $n++ while $l =~ /$pat/g;
    }

    return $n;
}


sub wait_expected {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    my $idx = $repeated_req_idx // $req_idx // 0;

    return if $dry_run;

    my @pats = _patterns($block, $idx);
    my ($gpat, $gwant) = (_for_request(scalar $block->grep_error_log, $idx),
                          _for_request(scalar $block->grep_error_log_out,
                                       $idx, 1));
    my $gn = 0;

    if (defined $gpat && defined $gwant && !ref $gwant) {
        $gn = () = $gwant =~ /\n/g;
    }

    return unless @pats || $gn;

    my $end = Time::HiRes::time() + $DEADLINE;

    while (1) {
        my $lines = _log_lines();

        last if !grep({ !_seen($lines, $_) } @pats)
                && (!$gn || _grep_count($lines, $gpat) >= $gn);
        last if Time::HiRes::time() > $end;

        Time::HiRes::sleep(0.02);
    }
}


1;
