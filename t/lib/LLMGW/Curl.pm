package LLMGW::Curl;

# Copyright (C) llmgw authors
#
# curl as a test client for what Perl's core cannot speak: HTTP/2 over
# TLS, with client certificates, several requests on one connection.
# One curl run makes every transfer given (--next between them); curl
# keeps the connection and multiplexes its streams, and each result says
# whether it did (connects: 1 for the transfer that opened it, 0 after).
#
#     my @r = curl_run(
#         common => ['--http2', '--cacert', "$dir/ca.crt"],
#         parallel => 1,            # streams at once (--parallel), or not
#         transfers => [
#             { url => $url, cert => "$dir/alice",   # .crt and .key
#               headers => ["Authorization: Bearer $t"] },
#             { url => $url2, method => 'POST', data => $json },
#         ]);
#     $r[0]{version}   # '2' (curl's %{http_version})
#     $r[0]{code}      # 200
#     $r[0]{connects}  # 1, then 0 on a reused connection
#     $r[0]{h}{'www-authenticate'}, $r[0]{body}
#     $r[0]{exit}      # curl's exit code for this transfer: 0, 92 (an
#                      # HTTP/2 stream reset), ...
#
#     my @lines = curl_lines(@args, $url);   # [seconds since start, line]
#
# curl failing as a whole dies; a transfer that fails only says so in
# its exit, and then only under allow_fail => 1.

use strict;
use warnings;

use Exporter 'import';
use File::Temp ();
use Time::HiRes ();

our @EXPORT = qw(curl_run curl_lines);


sub _slurp {
    my ($file) = @_;

    open my $fh, '<:raw', $file or return '';
    local $/;
    my $text = <$fh>;
    close $fh;

    return $text // '';
}


# the last response's header block (curl -D writes 1xx ones before it)
sub _headers {
    my ($text) = @_;
    my @blocks = split /\r\n\r\n/, $text;
    my %h;

    for my $line (split /\r\n/, $blocks[-1] // '') {
        my ($name, $value) = $line =~ /^([^:\s]+):\s*(.*)\z/ or next;
        $name = lc $name;
        $h{$name} = exists $h{$name} ? "$h{$name}, $value" : $value;
    }

    return \%h;
}


sub curl_run {
    my (%o) = @_;
    my $dir = File::Temp::tempdir('llmgw-curl.XXXXXX', TMPDIR => 1,
                                  CLEANUP => 1);
    my @t = @{ $o{transfers} };
    # -s does not silence the progress meter of --parallel: this does
    my @args = ('curl', '--no-progress-meter');

    push @args, '--parallel', '--parallel-max', scalar @t if $o{parallel};

    for my $i (0 .. $#t) {
        my $t = $t[$i];

        push @args, '--next' if $i;
        push @args, $o{allow_fail} ? '-s' : '-sS', @{ $o{common} || [] },
                    @{ $t->{args} || [] };
        push @args, '--cert', "$t->{cert}.crt", '--key', "$t->{cert}.key"
            if $t->{cert};
        push @args, map { ('-H', $_) } @{ $t->{headers} || [] };
        push @args, '-X', $t->{method} if $t->{method};
        push @args, '--data-binary', $t->{data} if defined $t->{data};
        push @args, '-D', "$dir/h$i", '-o', "$dir/b$i",
                    '-w', "$i %{http_version} %{response_code} "
                          . "%{num_connects} %{exitcode}\\n",
                    $t->{url};
    }

    open my $out, '-|', @args or die "curl: $!\n";
    my @lines = <$out>;
    close $out;

    die "curl exited " . ($? >> 8) . " (@args)\n" if $? && !$o{allow_fail};

    my @r;

    for my $line (@lines) {
        my ($i, $v, $code, $n, $exit) =
            $line =~ /^(\d+) (\S+) (\d+) (\d+) (\d+)$/
            or die "curl: unexpected output: $line";

        die "curl: transfer $i failed: $exit\n" if $exit && !$o{allow_fail};

        $r[$i] = { version => $v, code => $code, connects => $n,
                   exit => $exit,
                   h => _headers(_slurp("$dir/h$i")),
                   body => _slurp("$dir/b$i") };
    }

    die "curl: " . scalar(@r) . " results for " . scalar(@t) . " transfers\n"
        if grep { !defined } @r[0 .. $#t];

    return @r;
}


# one transfer's body as it comes (curl -N: no buffering), each line with
# the time it arrived, in seconds since curl started
sub curl_lines {
    my (@args) = @_;
    my $start = Time::HiRes::time();

    open my $out, '-|', 'curl', '-sS', '-N', @args or die "curl: $!\n";

    my @lines;

    while (my $line = <$out>) {
        push @lines, [Time::HiRes::time() - $start, $line];
    }

    close $out;

    die "curl exited " . ($? >> 8) . " (@args)\n" if $?;

    return @lines;
}


1;
