package Test::Nginx::Socket;

# llmgw's stand-in for the CPAN Test::Nginx::Socket (openresty/test-nginx),
# used only when that is not installed (see t/run-tests.sh).  Written for
# this project on Test::Base, following Test::Nginx::Socket 0.29's block
# format and its test counts, so one `plan tests => ...` fits both:
#
#   per request (each element of a --- request eval array, each pipelined
#   request), unless --- ignore_response:
#     1  status code (--- error_code, --- error_code_like, else 200)
#     1  each of --- raw_response_headers_like / _unlike
#     1  per distinct header name in --- response_headers (or _like)
#     1  --- response_body / response_body eval / _like / _unlike
#   per request again, and once more at the end of the block, nothing if
#   the block has only one request:
#     1  per --- error_log / --- no_error_log / --- access_log pattern
#        (lines of a string, or elements of an eval array / one qr//)
#     1  --- grep_error_log
#   all of it repeat_each() times.
#
# Failures the CPAN runner reports outside the plan (socket timeout, broken
# chunked body, "Assertion ... failed" in error.log, a pattern of
# --- no_error_log matching several lines) are reported here the same way.

use strict;
use warnings;

use Test::Base -base;

our $VERSION = '0.29';

use Digest::MD5 ();
use Digest::SHA ();
use Encode ();
use Errno qw(EAGAIN EWOULDBLOCK EINTR);
use IO::Select ();
use IO::Socket::INET ();
use List::Util qw(min);
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep time);

use Test::Nginx::Util;

our @EXPORT = qw(env_to_nginx is_str plan run_tests run_test
  repeat_each config_preamble worker_connections
  master_process_enabled
  no_long_string workers master_on master_off
  log_level no_shuffle no_root_location use_hup
  server_name
  server_addr server_root html_dir server_port server_port_for_client
  timeout no_nginx_manager check_accum_error_log
  add_block_preprocessor bail_out add_cleanup_handler
  add_response_body_check
);

# lets a suite tell this runner from the CPAN one
our $LlmgwRunner = 1;

our @ResponseBodyChecks;
our $TotalConnectingTimeouts = 0;

sub run_test_helper ($$$);
sub check_error_log ($$$$$);
sub check_shutdown_error_log ($$);
sub send_request ($$$$@);
sub parse_response ($$$);
sub value_contains ($$);

$Test::Nginx::Util::RunTestHelper = \&run_test_helper;
$Test::Nginx::Util::CheckErrorLog = \&check_error_log;
$Test::Nginx::Util::CheckShutdownErrorLog = \&check_shutdown_error_log;


sub set_http_config_filter ($) {
    $Test::Nginx::Util::FilterHttpConfig = shift;
}


sub add_response_body_check ($) {
    push @ResponseBodyChecks, shift;
}


sub no_ending () {
    Test::More->builder->no_ending(1);
}


# ---------------------------------------------------------------------------
# Building requests.
#
# "METHOD [URI [VERSION]]" on the first line (defaults / and HTTP/1.1), the
# body on the following lines.  Host and Connection are added unless the
# more_headers give them; a non-empty body that is not chunked and has no
# Content-Length in more_headers is trimmed of surrounding white space and
# gets a Content-Length.

sub parse_request ($$) {
    my ($name, $req) = @_;

    if (!defined $req || $req !~ /\S/ && $req !~ /\n/) {
        bail_out("$name - Request line should be non-empty");
    }

    my ($first, $rest) = $req =~ /\A([^\n]*\n?)(.*)\z/s;

    if ($first !~ /^(\s*)(\S+)( *)(?:(\S+)( *))?(?:(\S+)( *))?(\s*)$/) {
        bail_out("$name - Request line is not valid. Should be "
                 . "'meth [url [version]]' but got \"$first\".");
    }

    my %p = (
        before_meth => length $1,
        meth        => $2,
        after_meth  => length $3,
        url         => $4,
        after_url   => defined $5 ? length $5 : 0,
        ver         => $6,
        after_ver   => (defined $7 ? length $7 : 0) + length $8,
        content     => $rest,
    );

    $p{url_size} = defined $p{url} ? length $p{url} : 0;
    $p{ver_size} = defined $p{ver} ? length $p{ver} : 0;
    $p{url} //= '/';
    $p{ver} //= 'HTTP/1.1';

    return \%p;
}


sub parse_more_headers ($) {
    my $in = shift;

    my ($out, $is_chunked) = ('', undef);

    for my $header (split /\n+/, $in) {
        next if $header =~ /^\s*\#/;

        my ($key, $val) = split /:\s*/, $header, 2;
        $val = '' if !defined $val;

        if (lc($key) eq 'transfer-encoding' && $val eq 'chunked') {
            $is_chunked = 1;
        }

        $out .= "$key: $val\r\n";
    }

    return ($out, $is_chunked);
}


# Returns the request as a list of packets (strings) cut where the caller's
# packets were cut, after the request line and headers are rewritten.
sub build_request ($$$$$) {
    my ($name, $more_headers, $is_chunked, $conn, $packets) = @_;

    my $orig = join '', map { defined $_ ? $_ : '' } @$packets;
    my $p = parse_request($name, $orig);

    my $content = $p->{content};
    my $orig_content_len = length $content;
    my $len_header = '';

    if (!$is_chunked && $content ne ''
        && $more_headers !~ /(?:^|\n)Content-Length:/)
    {
        $content =~ s/^\s+|\s+$//gs;
        $len_header = "Content-Length: " . length($content) . "\r\n";
    }

    $more_headers =~ s/(?<!\r)\n/\r\n/gs;

    my $headers = '';

    if ($more_headers !~ /(?:^|\n)Host:/msi) {
        $headers .= "Host: " . server_name() . "\r\n";
    }

    if ($more_headers !~ /(?:^|\n)Connection/msi) {
        $headers .= "Connection: $conn\r\n";
    }

    $headers .= "$more_headers$len_header\r\n";

    # (original length, replacement) in order; used to map the packet
    # boundaries of the original onto the new request
    my @segs = (
        [$p->{before_meth}, ''],
        [length $p->{meth}, "$p->{meth} "],
        [$p->{after_meth}, ''],
        [$p->{url_size}, "$p->{url} "],
        [$p->{after_url}, ''],
        [$p->{ver_size}, "$p->{ver}\r\n"],
        [$p->{after_ver}, ''],
        [0, $headers],
        [$orig_content_len, $content],
    );

    my $new = join '', map { $_->[1] } @segs;

    return [$new] if @$packets < 2;

    my @cuts;
    my $pos = 0;

    for my $pkt (@$packets[0 .. $#$packets - 1]) {
        $pos += length($pkt // '');

        my ($o, $n) = (0, 0);

        for my $s (@segs) {
            my ($olen, $text) = @$s;

            if ($o + $olen <= $pos && !($olen > 0 && $o == $pos)) {
                # wholly before the cut; an insertion at the cut stays
                # with the earlier packet
                $n += length $text;

            } elsif ($o < $pos) {
                $n += min($pos - $o, length $text);
                last;

            } else {
                last;
            }

            $o += $olen;
        }

        push @cuts, $n;
    }

    my @out;
    my $prev = 0;

    for my $c (@cuts, length $new) {
        $c = $prev if $c < $prev;
        push @out, substr($new, $prev, $c - $prev);
        $prev = $c;
    }

    return \@out;
}


sub headers_for ($$$) {
    my ($more_headers, $i, $what) = @_;

    if (ref $more_headers eq 'ARRAY') {
        my $hdr = $more_headers->[$i];
        if (!defined $hdr) {
            bail_out("--- more_headers lacks data for the $what");
        }
        return parse_more_headers($hdr);
    }

    return parse_more_headers($more_headers);
}


# Returns a list of requests, each a list of packets {value, delay_before}.
sub get_req_from_block ($) {
    my $block = shift;

    my $name = $block->name;
    my @req_list;

    if (defined $block->raw_request) {
        my $raw = $block->raw_request;

        if (ref $raw && ref $raw eq 'ARRAY') {
            push @req_list, [map { { value => $_ } } @$raw];

        } else {
            push @req_list, [{ value => $raw }];
        }

        return \@req_list;
    }

    my $request;

    if (defined $block->request_eval) {
        Test::More::diag("$name - request_eval DEPRECATED. Use request "
                         . "eval instead.");
        $request = eval $block->request_eval;
        warn $@ if $@;

    } else {
        $request = $block->request;
        if (defined $request && !ref $request) {
            while ($request =~ s/^\s*\#[^\n]+\s+|^\s+//gs) {
                # leading comments and blank lines
            }
        }
    }

    my $more_headers = $block->more_headers || '';

    if ($block->pipelined_requests) {
        my $reqs = $block->pipelined_requests;

        if (!ref $reqs || ref $reqs ne 'ARRAY') {
            bail_out("$name - invalid entries in --- pipelined_requests");
        }

        my $all = '';
        my $i = 0;

        for my $r (@$reqs) {
            # as in the CPAN runner: here, not in --- request
            my $one = expand_env_in_text($r, $name,
                                         $Test::Nginx::Util::RandPorts);
            my $conn = $i == @$reqs - 1 ? 'close' : 'keep-alive';
            my ($hdr, $chunked) = headers_for($more_headers, $i,
                                              "$i pipelined request");
            $all .= build_request($name, $hdr, $chunked, $conn,
                                  [$one])->[0];
            $i++;
        }

        push @req_list, [{ value => $all }];
        return \@req_list;
    }

    if (!ref $request) {
        my ($hdr, $chunked) = headers_for($more_headers, 0, "request");
        my $r = build_request($name, $hdr, $chunked, 'close', [$request]);
        push @req_list, [{ value => $r->[0] }];
        return \@req_list;
    }

    if (ref $request ne 'ARRAY') {
        bail_out("$name - invalid ---request : MUST be string or array of "
                 . "requests");
    }

    my $i = 0;

    for my $one (@$request) {
        my ($hdr, $chunked) = headers_for($more_headers, $i,
                                          "${i}th request");

        if (!ref $one) {
            my $r = build_request($name, $hdr, $chunked, 'close', [$one]);
            push @req_list, [{ value => $r->[0] }];

        } elsif (ref $one eq 'ARRAY') {
            my @vals;

            for my $pkt (@$one) {
                if (!ref $pkt) {
                    push @vals, $pkt;

                } elsif (ref $pkt eq 'HASH') {
                    push @vals, $pkt->{value};

                } else {
                    bail_out("$name - Invalid syntax. $pkt should be a "
                             . "string or hash with value.");
                }
            }

            my $r = build_request($name, $hdr, $chunked, 'close', \@vals);
            my @pkts;

            for my $j (0 .. $#$r) {
                my $orig = $one->[$j];
                my %pkt = ref $orig eq 'HASH' ? %$orig : ();
                $pkt{value} = $r->[$j];
                push @pkts, \%pkt;
            }

            push @req_list, \@pkts;

        } else {
            bail_out("$name - Invalid syntax. $one should be a string or "
                     . "an array of packets.");
        }

        $i++;
    }

    return \@req_list;
}


# ---------------------------------------------------------------------------
# Sending.

sub connect_server ($$$) {
    my ($block, $timeout, $name) = @_;

    my $addr = $block->server_addr_for_client // $ServerAddr;
    my $port = server_port_for_client();
    my $total = $TotalConnectingTimeouts ? 20 : 50;

    for (my $tries = 1; ; $tries++) {
        my $sock = IO::Socket::INET->new(PeerAddr => $addr,
                                         PeerPort => $port,
                                         Proto    => 'tcp',
                                         Blocking => 0,
                                         Timeout  => $timeout);
        return $sock if defined $sock;

        my $err = $! || $@;

        if ($tries > $total) {
            my $msg = "$name - Can't connect to $addr:$port: $err "
                      . "(aborted)\n";
            if (++$TotalConnectingTimeouts < 3) {
                no_ending();
                Test::More::fail($msg);
                return undef;
            }
            bail_out($msg);
        }

        my $wait = (sleep_time() + sleep_time() * $tries) * $tries / 2;
        $wait = 1 if $wait >= 1;

        if ($wait >= 0.6) {
            warn "$name - Can't connect to $addr:$port: $err\n",
                 "\tRetry connecting after $wait sec\n";
        }

        sleep $wait;
    }
}


# Sends the packets of one request on a new connection and reads until the
# server closes it.  Returns (raw response, HEAD request?).
sub send_request ($$$$@) {
    my ($req, $middle_delay, $timeout, $block) = @_;

    my $name = $block->name;
    my @bits = @$req;
    my $head_req = (join '', map { $_->{value} // '' } @bits)
                   =~ /^\s*HEAD\s+/ ? 1 : 0;

    if (use_http2($block)) {
        return (send_http_req_by_curl($block, $req, $timeout), $head_req);
    }

    my $sock = connect_server($block, $timeout, $name);
    return (undef, $head_req) if !$sock;

    local $SIG{PIPE} = 'IGNORE';

    my $resp = '';
    my $buf = (shift @bits)->{value} // '';
    my $off = 0;
    my ($writing, $reading) = (1, 1);

    while ($writing || $reading) {
        my $rs = $reading ? IO::Select->new($sock) : undef;
        my $ws = $writing ? IO::Select->new($sock) : undef;

        $! = 0;
        my ($r, $w) = IO::Select->select($rs, $ws, undef, $timeout);

        if (!$r && !$w) {
            next if $! == EINTR;

            close $sock;

            if (!defined $block->abort) {
                no_ending();
                Test::More::fail("ERROR: client socket timed out - $name\n");

            } else {
                sleep 0.005;
            }

            return ($resp, $head_req);
        }

        if ($w && @$w) {
            WRITE: while (1) {
                if ($off < length $buf) {
                    my $n = syswrite($sock, $buf, length($buf) - $off, $off);

                    if (!defined $n) {
                        last WRITE if $! == EAGAIN || $! == EWOULDBLOCK;

                        my $msg = "write failed: $!";
                        warn "$msg\n";
                        $resp = $msg if !$resp;
                        close $sock;
                        return ($resp, $head_req);
                    }

                    $off += $n;
                    next WRITE;
                }

                my $next = shift @bits;

                if (!defined $next) {
                    $writing = 0;

                    if (defined(my $how = $block->shutdown)) {
                        $how = 1 if $how =~ /^$/s;
                        shutdown($sock, $how);
                    }

                    last WRITE;
                }

                $buf = $next->{value} // '';
                $off = 0;

                my $wait = $next->{delay_before} // $middle_delay;
                sleep $wait if $wait;
            }
        }

        if ($r && @$r) {
            while (1) {
                my $n = sysread($sock, my $chunk, 1024);

                if (!defined $n) {
                    last if $! == EAGAIN || $! == EWOULDBLOCK;

                    warn "WARNING: $name - HTTP response read failure: $!";
                    $reading = $writing = 0;
                    last;
                }

                if ($n == 0) {
                    $reading = $writing = 0;
                    last;
                }

                $resp .= $chunk;
            }
        }
    }

    close $sock;
    return ($resp, $head_req);
}


sub gen_curl_cmd_from_req ($$) {
    my ($block, $req) = @_;

    my $name = $block->name;
    my $all = join '', map { $_->{value} // '' } @$req;
    my ($meth, $uri, $ver);

    if ($all =~ m{^\s*(\w+)\s+(\S+)\s+HTTP/(\S+)\r?\n}smig) {
        ($meth, $uri, $ver) = ($1, $2, $3);

    } elsif ($all =~ m{^\s*(\w+)\s+(.*\S)\r?\n}smig) {
        ($meth, $uri, $ver) = ($1, $2, '0.9');

    } else {
        bail_out("$name - cannot parse the status line in the request: $all");
    }

    my @args = ('curl', '-i', '-H', 'User-Agent:', '-H', 'Accept:',
                '-H', 'Host:', '-sS', '--http2', '--http2-prior-knowledge');

    push @args, $meth eq 'HEAD' ? ('-I') : ('-X', $meth);
    push @args, '-0' if $ver ne '1.1';

    my $found_ctype;

    if ($ver ge '1.0') {
        if ($all !~ m{\G(.*?)\r?\n\r?\n}gcs) {
            bail_out("cannot parse the header entries in the request: $all");
        }

        for my $h (grep { !/^Connection\s*:/i } split /\r\n/, $1) {
            $found_ctype = 1 if $h =~ /^\s*Content-Type\s*:/i;
            push @args, '-H', $h;
        }
    }

    if ($all =~ m{\G(.+)}gcsm) {
        my $body = $1;
        push @args, '-H', 'Content-Type: ' if !$found_ctype;

        my $file = html_dir() . "/curl.data.bin";
        open my $fh, '>', $file or die "Could not open $file: $!";
        binmode $fh;
        print $fh $body;
        close $fh;

        push @args, '--data-binary', '@' . $file;
    }

    my $timeout = $block->timeout || timeout();
    push @args, '--connect-timeout', $timeout, '--max-time', $timeout;

    my $addr = $block->server_addr_for_client // $ServerAddr;
    push @args, "http://$addr:" . server_port_for_client() . $uri;

    return \@args;
}


sub send_http_req_by_curl ($$$) {
    my ($block, $req, $timeout) = @_;

    my $name = $block->name;
    my $cmd = gen_curl_cmd_from_req($block, $req);

    my ($status, $out, $err) =
        Test::Nginx::Util::run_capture($cmd, $timeout + 1);

    if (!defined $status) {
        no_ending();
        Test::More::fail("ERROR: client socket timed out - $name\n");
        return undef;
    }

    if (!$out) {
        no_ending();
        Test::More::fail("$name - command \"@$cmd\" generates "
                         . ($err ? "stderr output: $err" : "no stdout output"));
        return undef;
    }

    if ($err) {
        warn "WARNING: $name - command \"@$cmd\" generates stderr output: "
             . "$err";
    }

    return $out;
}


# ---------------------------------------------------------------------------
# Responses.

package Test::Nginx::Socket::Response;

sub new {
    my ($class, %args) = @_;
    return bless { headers => [], %args }, $class;
}


sub code {
    my $self = shift;
    $self->{code} = shift if @_;
    return $self->{code};
}


sub content {
    my $self = shift;
    $self->{content} = shift if @_;
    return $self->{content};
}


sub header {
    my ($self, $name) = @_;

    (my $want = lc $name) =~ tr/_/-/;

    my @vals;
    my $h = $self->{headers};

    for (my $i = 0; $i < @$h; $i += 2) {
        (my $n = lc $h->[$i]) =~ tr/_/-/;
        push @vals, $h->[$i + 1] if $n eq $want;
    }

    return @vals if wantarray;
    return undef if !@vals;
    return join ', ', @vals;
}


# Like HTTP::Response->parse: status line, "Name: value" lines (folded
# lines continue the previous one), empty line, content.
sub parse {
    my ($class, $str) = @_;

    $str = '' if !defined $str;

    my $status_line;
    if ($str =~ s/^(.*)\n//) {
        $status_line = $1;

    } else {
        $status_line = $str;
        $str = '';
    }

    $status_line =~ s/\r\z//;

    my @hdr;

    while (1) {
        if ($str =~ s/^([^\s:]+)[ \t]*: ?(.*)\n?//) {
            push @hdr, $1, $2;
            $hdr[-1] =~ s/\r\z//;

        } elsif (@hdr && $str =~ s/^([ \t].*)\n?//) {
            $hdr[-1] .= "\n$1";
            $hdr[-1] =~ s/\r\z//;

        } else {
            $str =~ s/^\r?\n//;
            last;
        }
    }

    my ($proto, $code, $msg);

    if ($status_line =~ /^\d{3} /) {
        ($code, $msg) = split ' ', $status_line, 2;

    } else {
        ($proto, $code, $msg) = split ' ', $status_line, 3;
    }

    return $class->new(protocol => $proto, code => $code, message => $msg,
                       headers => \@hdr, content => $str);
}


package Test::Nginx::Socket;


# Returns (response, raw header text, bytes after this response); the
# response is undef when a chunked body is broken (reported as a failure).
sub parse_response ($$$) {
    my ($name, $raw, $head_req) = @_;

    my $left;
    my $raw_headers = '';

    if ($raw =~ /(.*?\r\n)\r\n/s) {
        $raw_headers = $1;
    }

    my $res = Test::Nginx::Socket::Response->parse($raw);
    my $code = $res->code;

    if (defined $code && $code !~ /^\d+$/) {
        undef $code;
        $res->code(undef);
    }

    if ($code && ($code == 304 || $code == 101)) {
        return ($res, $raw_headers);
    }

    my $enc = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');

    if (defined $enc && $enc eq 'chunked') {
        my $body = $res->content // '';
        my $decoded = '';

        while (1) {
            if ($body =~ /\G 0 [\ \t]* \r\n \r\n /gcsx) {
                $left = $1 if $body =~ /\G (.+) /gcsx;
                last;
            }

            if ($body =~ m{ \G [\ \t]* ([A-Fa-f0-9]+) [\ \t]* \r\n }gcsx) {
                my $size = hex $1;

                if (length($body) - pos($body) < $size) {
                    no_ending();
                    Test::More::fail("$name - invalid chunked data received "
                                     . "(not enought octets for the data "
                                     . "section)");
                    return;
                }

                $decoded .= substr($body, pos($body), $size);
                pos($body) += $size;

                if ($body !~ /\G\r\n/gcs) {
                    no_ending();
                    Test::More::fail("$name - invalid chunked data received "
                                     . "(expected CRLF).");
                    return;
                }

            } elsif ($body =~ /\G.+/gcs) {
                no_ending();
                Test::More::fail("$name - invalid chunked body received: $&");
                return;

            } else {
                no_ending();
                Test::More::fail("$name - no last chunk found - $body");
                return;
            }
        }

        $res->content($decoded);

    } elsif (defined $len && $len =~ /^\s*\d+\s*$/) {
        my $body = $res->content;

        if (length $body < $len) {
            if (!$head_req) {
                warn "WARNING: $name - response body truncated: $len "
                     . "expected, but got ", length $body, "\n";
            }

        } elsif (length $body > $len) {
            $left = substr $body, $len;
            $res->content(substr $body, 0, $len);
        }
    }

    return ($res, $raw_headers, $left);
}


# ---------------------------------------------------------------------------
# Checks.

sub get_indexed_value ($$$$) {
    my ($name, $value, $req_idx, $need_array) = @_;

    if ($need_array) {
        if (ref $value && ref $value eq 'ARRAY') {
            return $value->[$req_idx];
        }

        bail_out("$name - You asked for many requests, the expected results "
                 . "should be arrays as well.");
    }

    if (ref $value && ref $value eq 'ARRAY') {
        if ($req_idx != 0) {
            bail_out("$name - SHOULD NOT HAPPEN: idx != 0 and don't need "
                     . "array.");
        }

        return $value->[0];
    }

    return $value;
}


sub check_error_code ($$$$$) {
    my ($block, $res, $dry_run, $req_idx, $need_array) = @_;

    my $name = $block->name;
    my $got = ($res && $res->code) || '';

    SKIP: {
        Test::More::skip("$name - tests skipped due to $dry_run", 1)
            if $dry_run;

        if (defined $block->error_code_like) {
            my $val = get_indexed_value($name, $block->error_code_like,
                                        $req_idx, $need_array);
            Test::More::like($got, qr/$val/sm, "$name - status code ok");

        } elsif (defined $block->error_code) {
            Test::More::is($got,
                           get_indexed_value($name, $block->error_code,
                                             $req_idx, $need_array),
                           "$name - status code ok");

        } else {
            Test::More::is($got, 200, "$name - status code ok");
        }
    }
}


sub check_raw_response_headers ($$$$$) {
    my ($block, $raw_headers, $dry_run, $req_idx, $need_array) = @_;

    my $name = $block->name;

    for my $t (['raw_response_headers_like', 1],
               ['raw_response_headers_unlike', 0])
    {
        my ($sec, $like) = @$t;

        next if !defined $block->$sec;

        SKIP: {
            Test::More::skip("$name - $sec - tests skipped due to $dry_run",
                             1) if $dry_run;

            my $pat = get_indexed_value($name, $block->$sec, $req_idx,
                                        $need_array);
            if ($like) {
                Test::More::like($raw_headers // '', qr/$pat/s,
                                 "$name - raw resp headers like");
            } else {
                Test::More::unlike($raw_headers // '', qr/$pat/s,
                                   "$name - raw resp headers unlike");
            }
        }
    }
}


sub check_response_headers ($$$$$$) {
    my ($block, $res, $raw_headers, $dry_run, $req_idx, $need_array) = @_;

    my $name = $block->name;

    if (defined $block->response_headers) {
        my $headers = parse_headers(get_indexed_value(
                          $name, $block->response_headers, $req_idx,
                          $need_array));

        while (my ($key, $val) = each %$headers) {
            if (!defined $val) {
                SKIP: {
                    Test::More::skip("$name - response_headers - tests "
                                     . "skipped due to $dry_run", 1)
                        if $dry_run;
                    Test::More::unlike($raw_headers // '',
                                       qr/^\s*\Q$key\E\s*:/ms,
                                       "$name - header $key not present in "
                                       . "the raw headers");
                }
                next;
            }

            $val =~ s/\$ServerPort\b/$ServerPort/g;
            $val =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;

            my $actual = $res ? $res->header($key) : undef;
            $actual = '' if !defined $actual;

            SKIP: {
                Test::More::skip("$name - response_headers - tests skipped "
                                 . "due to $dry_run", 1) if $dry_run;
                Test::More::is($actual, $val, "$name - header $key ok");
            }
        }

    } elsif (defined $block->response_headers_like) {
        my $headers = parse_headers(get_indexed_value(
                          $name, $block->response_headers_like, $req_idx,
                          $need_array));

        while (my ($key, $val) = each %$headers) {
            my $actual = $res ? $res->header($key) : undef;
            $actual = '' if !defined $actual;

            SKIP: {
                Test::More::skip("$name - response_headers_like - tests "
                                 . "skipped due to $dry_run", 1) if $dry_run;
                Test::More::like($actual, qr/^$val$/,
                                 "$name - header $key like ok");
            }
        }
    }
}


sub run_filter ($$$) {
    my ($block, $filter, $content) = @_;

    my $name = $block->name;

    if (ref $filter && ref $filter eq 'CODE') {
        return $filter->($content);
    }

    if (ref $filter) {
        bail_out("$name - the --- response_body_filters section only "
                 . "supports subroutine reference values and string values");
    }

    my %f = (
        md5_hex  => sub { Digest::MD5::md5_hex($_[0]) },
        sha1_hex => sub { Digest::SHA::sha1_hex($_[0]) },
        uc       => sub { uc $_[0] },
        lc       => sub { lc $_[0] },
        ucfirst  => sub { ucfirst $_[0] },
        lcfirst  => sub { lcfirst $_[0] },
        length   => sub { length $_[0] },
    );

    if (!$f{$filter}) {
        bail_out("$name - unknown filter, \"$filter\", specified in the "
                 . "--- response_body_filters section");
    }

    return $f{$filter}->($content);
}


sub transform_response_body ($$$) {
    my ($block, $res, $req_idx) = @_;

    return if !defined $res || !defined $res->content;

    my $filters = $block->response_body_filters;
    return if !defined $filters;

    my $name = $block->name;

    if (!ref $filters) {
        $filters =~ s/^\s+|\s+$//gs;
        $filters = [split /\s+/, $filters];

    } elsif (ref $filters ne 'ARRAY') {
        $filters = [$filters];
    }

    my $filter = $filters;

    if (ref $filters->[0] eq 'ARRAY') {
        for my $elem (@$filters) {
            if (ref $elem ne 'ARRAY') {
                bail_out("$name - the --- response_body_filters "
                         . "two-dimensional array only be like [[uc], [lc]] "
                         . "not [[uc], lc]");
            }
        }

        $filter = $filters->[$req_idx];
        if (!defined $filter) {
            bail_out("$name - the ---response_body_filters two-dimensional "
                     . "array unmatch the specified request($req_idx)");
        }
    }

    my $new = $res->content;

    for my $f (ref $filter eq 'ARRAY' ? @$filter : ($filter)) {
        $new = run_filter($block, $f, $new);
    }

    $res->content($new);
}


sub check_response_body ($$$$$$) {
    my ($block, $res, $dry_run, $req_idx, $repeated_req_idx, $need_array) = @_;

    my $name = $block->name;

    my $content = $res ? $res->content : undef;
    if (defined $content) {
        $content =~ s/^TE: deflate,gzip;q=0\.3\r\n//gms;
        $content =~ s/^Connection: TE, close\r\n//gms;
    }

    if (defined $block->response_body || defined $block->response_body_eval) {
        my $expected;

        if ($block->response_body_eval) {
            Test::More::diag("$name - response_body_eval is DEPRECATED. Use "
                             . "response_body eval instead.");
            $expected = eval get_indexed_value($name,
                                               $block->response_body_eval,
                                               $req_idx, $need_array);
            warn $@ if $@;

        } else {
            $expected = get_indexed_value($name, $block->response_body,
                                          $req_idx, $need_array);
        }

        if ($block->charset) {
            Encode::from_to($expected, 'UTF-8', $block->charset);
        }

        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort\b/$ServerPort/g;
            $expected =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            $expected = expand_env_in_text($expected, $name,
                                           $Test::Nginx::Util::RandPorts);
        }

        my $desc = "$name - response_body - response is expected "
                   . "(repeated req $repeated_req_idx, req $req_idx)";

        SKIP: {
            Test::More::skip("$name - response_body - tests skipped due to "
                             . "$dry_run", 1) if $dry_run;

            if (ref $expected) {
                Test::More::like($content, $expected,
                                 "$name - response_body - like (repeated req "
                                 . "$repeated_req_idx, req $req_idx)");

            } elsif ($NoLongString) {
                Test::More::is($content, $expected, $desc);

            } else {
                is_string($content, $expected, $desc);
            }
        }

    } elsif (defined $block->response_body_like
             || defined $block->response_body_unlike)
    {
        my $like = defined $block->response_body_like;
        my $type = $like ? 'like' : 'unlike';
        my $pats = $like ? $block->response_body_like
                         : $block->response_body_unlike;

        my $pat = get_indexed_value($name, $pats, $req_idx, $need_array);
        $pat =~ s/\$ServerPort\b/$ServerPort/g;
        $pat =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;

        my $summary = trim($content) // '';

        SKIP: {
            Test::More::skip("$name - response_body_$type - tests skipped "
                             . "due to $dry_run", 1) if $dry_run;

            my $desc = "$name - response_body_$type - response is expected "
                       . "($summary)";
            if ($like) {
                Test::More::like($content, qr/$pat/s, $desc);
            } else {
                Test::More::unlike($content, qr/$pat/s, $desc);
            }
        }
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $res ? $res->content : undef, $req_idx,
                 $repeated_req_idx, $dry_run);
    }
}


sub fmt_str ($) {
    my $str = shift;

    chomp $str;
    $str =~ s/"/\\"/g;
    $str =~ s/\r/\\r/g;
    $str =~ s/\n/\\n/g;
    return $str;
}


# A pattern list: the lines of a string, one qr//, or an eval array.
sub pattern_list ($) {
    my $pats = shift;

    if (!ref $pats) {
        chomp $pats;
        return [split /\n+/, $pats];
    }

    return [$pats] if ref $pats eq 'Regexp';
    return [@$pats];
}


sub line_matches ($$) {
    my ($line, $pat) = @_;

    return ref $pat ? $line =~ /$pat/ : index($line, $pat) >= 0;
}


sub value_contains ($$) {
    my ($val, $pat) = @_;

    if (!ref $val || ref $val eq 'Regexp') {
        return $val =~ /\Q$pat\E/;
    }

    if (ref $val eq 'ARRAY') {
        for my $v (@$val) {
            return 1 if value_contains($v, $pat);
        }
    }

    return undef;
}


# --- error_log style: each pattern must match some line; one test each.
sub check_must_match ($$$$$) {
    my ($name, $what, $pats, $lines, $ctx) = @_;

    my ($dry_run, $suffix) = @$ctx;

    $pats = pattern_list($pats);

    for my $line (@$lines) {
        for my $pat (@$pats) {
            next if !defined $pat;
            next if !line_matches($line, $pat);

            SKIP: {
                Test::More::skip("$name - $what - tests skipped due to "
                                 . "$dry_run", 1) if $dry_run;
                Test::More::pass("$name - pattern \"$pat\" matches a line "
                                 . "in $what$suffix");
            }

            undef $pat;
        }
    }

    for my $pat (@$pats) {
        next if !defined $pat;

        SKIP: {
            Test::More::skip("$name - $what - tests skipped due to $dry_run",
                             1) if $dry_run;
            Test::More::fail("$name - pattern \"$pat\" should match a line "
                             . "in $what$suffix");
        }
    }
}


# --- no_error_log style: one failure per matching line (a pattern matching
# several lines breaks the plan, as in the CPAN runner), a pass per pattern
# matching none.
sub check_must_not_match ($$$$$) {
    my ($name, $what, $pats, $lines, $ctx) = @_;

    my ($dry_run, $suffix, $sec) = @$ctx;

    $pats = pattern_list($pats);

    my %found;

    for (my $i = 0; $i < @$lines; $i++) {
        my $line = $lines->[$i];

        for my $pat (@$pats) {
            next if !defined $pat;
            next if !line_matches($line, $pat);

            if ($found{$pat}++) {
                no_ending();
            }

            SKIP: {
                Test::More::skip("$name - $sec - tests skipped due to "
                                 . "$dry_run ($line)", 1) if $dry_run;

                my $end = min($i + 10, @$lines - 1);
                my $more = join '', @$lines[$i + 1 .. $end - 1];

                Test::More::fail("$name - pattern \"" . fmt_str($pat)
                                 . "\" should not match any line in $what "
                                 . "but matches line \"" . fmt_str($line)
                                 . "\"$suffix\n$more");
            }
        }
    }

    for my $pat (@$pats) {
        next if !defined $pat || $found{$pat};

        SKIP: {
            Test::More::skip("$name - $sec - tests skipped due to $dry_run",
                             1) if $dry_run;
            Test::More::pass("$name - pattern \"" . fmt_str($pat) . "\" does "
                             . "not match a line in $what$suffix");
        }
    }
}


sub check_access_log ($$$) {
    my ($block, $dry_run, $repeated_req_idx) = @_;

    my $name = $block->name;
    my $lines;
    my $suffix = " (req $repeated_req_idx)";

    if (defined $block->access_log) {
        $lines ||= access_log_data();
        check_must_match($name, 'access.log', $block->access_log, $lines,
                         [$dry_run, $suffix]);
    }

    if (defined $block->no_access_log) {
        $lines ||= access_log_data();
        check_must_not_match($name, 'access.log', $block->no_access_log,
                             $lines, [$dry_run, $suffix, 'no_access_log']);
    }
}


sub check_error_log ($$$$$) {
    my ($block, $res, $dry_run, $repeated_req_idx, $need_array) = @_;

    my $name = $block->name;
    my $lines;
    my $suffix = " (req $repeated_req_idx)";
    my %warn_on = map { $_ => 1 } qw(alert crit emerg);

    my $grep_pat;
    my $grep_pats = $block->grep_error_log;

    if (defined $grep_pats) {
        $grep_pat = ref $grep_pats && ref $grep_pats eq 'ARRAY'
                    ? $grep_pats->[$repeated_req_idx] : $grep_pats;

    } elsif (defined $block->grep_error_log_out) {
        bail_out("$name - No --- grep_error_log defined but "
                 . "--- grep_error_log_out is defined");
    }

    if (defined $grep_pat) {
        my $expected = $block->grep_error_log_out;

        if (!defined $expected) {
            bail_out("$name - No --- grep_error_log_out defined but "
                     . "--- grep_error_log is defined");
        }

        # a string, not the elements of an array, as in the CPAN runner
        $expected = expand_env_in_text($expected, $name,
                                       $Test::Nginx::Util::RandPorts)
            if !ref $expected;

        if (ref $expected && ref $expected eq 'ARRAY') {
            $expected = $expected->[$repeated_req_idx];
        }

        SKIP: {
            Test::More::skip("$name - error_log - tests skipped due to "
                             . "$dry_run", 1) if $dry_run;

            $lines ||= error_log_data();

            my $matched = '';
            for my $line (@$lines) {
                my $m;
                if (ref $grep_pat) {
                    $m = $& if $line =~ /$grep_pat/;
                } elsif ($line =~ /\Q$grep_pat\E/) {
                    $m = $&;
                }
                $matched .= "$m\n" if defined $m && $m !~ /\n/;
            }

            my $desc = "$name - grep_error_log_out$suffix";

            if (ref $expected eq 'Regexp') {
                Test::More::like($matched, $expected, $desc);
            } elsif ($NoLongString) {
                Test::More::is($matched, $expected, $desc);
            } else {
                is_string($matched, $expected, $desc);
            }
        }
    }

    for my $sec (qw(error_log no_error_log)) {
        my $pats = $block->$sec;
        next if !defined $pats;

        for my $level (keys %warn_on) {
            delete $warn_on{$level} if value_contains($pats, "[$level");
        }

        $lines ||= error_log_data();

        if ($sec eq 'error_log') {
            check_must_match($name, 'error.log', $pats, $lines,
                             [$dry_run, $suffix]);
        } else {
            check_must_not_match($name, 'error.log', $pats, $lines,
                                 [$dry_run, $suffix, 'no_error_log']);
        }
    }

    if (!$dry_run && %warn_on) {
        $lines ||= error_log_data();

        for my $line (@$lines) {
            if ($line =~ /\[(alert|crit|emerg)\]/ && $warn_on{$1}) {
                warn "WARNING: $name - " . fmt_str($line) . "\n";
            }
        }
    }

    for my $line (@{ $lines || [] }) {
        if ($line =~ /\bAssertion .*?failed\b/) {
            no_ending();
            chomp(my $l = $line);
            Test::More::fail("$name - $l\n");
        }
    }
}


sub check_shutdown_error_log ($$) {
    my ($block, $dry_run) = @_;

    my $name = $block->name;
    my $lines;

    if (defined $block->no_shutdown_error_log) {
        $lines ||= error_log_data();
        check_must_not_match($name, 'error.log', $block->no_shutdown_error_log,
                             $lines, [$dry_run, '', 'no_shutdown_error_log']);
    }

    if (defined $block->shutdown_error_log) {
        $lines ||= error_log_data();
        check_must_match($name, 'error.log', $block->shutdown_error_log,
                         $lines, [$dry_run, '']);
    }
}


# ---------------------------------------------------------------------------
# One run of a block (repeat_each() runs per block).

sub run_test_helper ($$$) {
    my ($block, $dry_run, $repeated_req_idx) = @_;

    my $name = $block->name;
    my $reqs = get_req_from_block($block);

    if (!@$reqs) {
        bail_out("$name - request empty");
    }

    my $timeout = parse_time($block->timeout);
    $timeout = timeout() if !defined $timeout;

    my ($res, $n, $need_array);
    my $req_idx = 0;

    for my $one (@$reqs) {
        my ($raw, $head_req);

        if ($dry_run) {
            $raw = "200 OK HTTP/1.0\r\nContent-Length: 0\r\n\r\n";

        } else {
            ($raw, $head_req) = send_request($one,
                                             $block->raw_request_middle_delay,
                                             $timeout, $block);
        }

        if ($block->pipelined_requests) {
            $n = @{ $block->pipelined_requests };
            $need_array = 1;

        } else {
            $need_array = @$reqs > 1;
        }

        while (1) {
            $raw = '' if !defined $raw;

            my ($raw_headers, $left);

            if (!defined $block->ignore_response) {
                if (defined $block->http09) {
                    $res = Test::Nginx::Socket::Response->new(
                               code => 200, message => 'OK', content => $raw);
                    $raw_headers = '';

                } else {
                    ($res, $raw_headers, $left) =
                        parse_response($name, $raw, $head_req);
                }
            }

            if (!$n) {
                if ($left) {
                    (my $l = $left) =~ s/([\0-\037\200-\377])/
                                         sprintf('\x{%02x}', ord $1)/egx;
                    warn "WARNING: $name - unexpected extra bytes after last "
                         . "chunk in response: \"$l\"\n";
                }

            } else {
                $raw = $left;
                $n--;
            }

            if (!defined $block->ignore_response) {
                check_error_code($block, $res, $dry_run, $req_idx,
                                 $need_array);
                check_raw_response_headers($block, $raw_headers, $dry_run,
                                           $req_idx, $need_array);
                check_response_headers($block, $res, $raw_headers, $dry_run,
                                       $req_idx, $need_array);
                transform_response_body($block, $res, $req_idx);
                check_response_body($block, $res, $dry_run, $req_idx,
                                    $repeated_req_idx, $need_array);
            }

            if ($n || $req_idx < @$reqs - 1) {
                if ($block->wait) {
                    sleep $block->wait;
                }

                check_error_log($block, $res, $dry_run, $repeated_req_idx,
                                $need_array);

                if (!defined $block->ignore_response) {
                    check_access_log($block, $dry_run, $repeated_req_idx);
                }
            }

            $req_idx++;

            last if !$n;
        }
    }

    if ($block->wait) {
        sleep $block->wait;
    }

    check_error_log($block, $res, $dry_run, $repeated_req_idx, $need_array);

    if (!defined $block->ignore_response) {
        check_access_log($block, $dry_run, $repeated_req_idx);
    }
}


1;
