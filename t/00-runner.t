# Self-test of the Test::Nginx::Socket runner against plain nginx: no llmgw
# directive is used, so it passes with or without TEST_NGINX_LOAD_MODULES,
# under t/lib's runner or the CPAN Test::Nginx.
#
# Each block states its own test count in --- test_count (per repeat), so a
# runner that counts differently from Test::Nginx::Socket breaks the plan.
# Before the blocks run, small suites are run in child processes to check
# that failures are reported (wrong body, status, header, log patterns,
# socket timeout), that ONLY / SKIP / LAST select blocks, and that test
# counts follow Test::Nginx::Socket's rules.

use Test::Nginx::Socket;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use List::Util qw(sum);
use TAP::Parser;

our $OwnRunner = do {
    no warnings 'once';
    $Test::Nginx::Socket::LlmgwRunner;
};
our $MetaTests = 16;

repeat_each(2);

plan tests => repeat_each() * sum(map { $_->test_count } blocks())
              + $MetaTests;

no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    # The CPAN Test::Nginx (0.32) writes "http2 on;" for an HTTP/2 block,
    # a directive nginx has only from 1.25.1: on an older nginx the block
    # cannot start.  t/lib's runner uses "listen ... http2" and runs it.
    if (!$OwnRunner && defined $block->http2) {
        $block->set_value("skip_nginx", $block->test_count . ": < 1.25.1: "
            . "the CPAN Test::Nginx writes \"http2 on;\", unknown to "
            . "nginx before 1.25.1");
    }

    if (!defined $block->http_config) {
        $block->set_value("http_config", <<'_EOC_');
    map $uri $runner_pp {
        default "from-preprocessor";
    }
_EOC_
    }
});


# ---------------------------------------------------------------------------
# Child suites.

our $ChildDir = tempdir("llmgw-runner-XXXXXX", TMPDIR => 1, CLEANUP => 1);
our $ChildN = 0;

sub run_child ($;%) {
    my ($spec, %env) = @_;

    my $file = "$ChildDir/child" . ++$ChildN . ".t";
    open my $out, '>', $file or die "cannot write $file: $!";
    print $out $spec;
    close $out;

    my $inc = dirname(dirname(dirname(abs_path(
                  $INC{'Test/Nginx/Socket.pm'}))));

    local %ENV = %ENV;
    delete @ENV{qw(TEST_NGINX_NO_CLEAN TEST_NGINX_USE_VALGRIND
                   TEST_NGINX_ERROR_LOG)};
    $ENV{TEST_NGINX_SERVROOT} = "$ChildDir/servroot";
    @ENV{keys %env} = values %env;

    my $tap = `$^X -I$inc $file 2>&1`;
    return ($? >> 8, $tap);
}


# Whether prove would call the child suite a failure.
sub fails ($$) {
    my ($rc, $tap) = @_;

    my $parser = TAP::Parser->new({ tap => $tap });
    $parser->run;

    return $rc != 0 || $parser->has_problems ? 1 : 0;
}


sub count_lines ($$) {
    my ($tap, $re) = @_;
    return scalar grep { /$re/ } split /\n/, $tap;
}


my $head = <<'_EOC_';
use Test::Nginx::Socket;
repeat_each(%d);
plan tests => %s;
no_shuffle();
run_tests();

__DATA__

_EOC_


# 1. Every kind of mismatch is a "not ok".
{
    my ($rc, $tap) = run_child(sprintf($head, 1, 5) . <<'_EOC_');
=== TEST 1: everything wrong
--- config
    location = /t {
        return 200 "actual\n";
    }
--- request
GET /t
--- error_code: 201
--- response_headers
X-Missing: yes
--- response_body
expected
--- error_log
a pattern that is not in the log
--- no_error_log
http finalize request
_EOC_

    is(fails($rc, $tap), 1, "runner: a failing suite fails");
    is(count_lines($tap, qr/^not ok \d+/), 5,
       "runner: status, header, body, error_log and no_error_log failures "
       . "are reported")
        or diag($tap);
    is(count_lines($tap, qr/^ok \d+/), 0, "runner: nothing passes by mistake")
        or diag($tap);
}


# 2. Test counts as in Test::Nginx::Socket: per request 1 status + 1 per
# header name + 1 body; log patterns once per request; all repeat_each()
# times.  2 * ((4 + 3 + 2 * 3) + (3 * 2 + 3 * 1) + (1 + 1)) = 48.
{
    my ($rc, $tap) = run_child(sprintf($head, 2, 48) . <<'_EOC_');
=== TEST 1: two requests
--- config
    location = /a {
        add_header X-A 1;
        add_header X-B 2;
        return 200 "a\n";
    }
--- request eval
["GET /a", "GET /b"]
--- error_code eval
[200, 404]
--- response_headers eval
["X-A: 1\nX-B: 2", "!X-A"]
--- response_body_like eval
["^a\$", "404 Not Found"]
--- error_log eval
[qr/http finalize request/, "http request line"]
--- no_error_log
[emerg]



=== TEST 2: pipelined
--- config
    location /p {
        return 200 "$uri\n";
    }
--- pipelined_requests eval
["GET /p1", "GET /p2", "GET /p3"]
--- response_body eval
["/p1\n", "/p2\n", "/p3\n"]
--- no_error_log
[alert]



=== TEST 3: raw request
--- config
    location = /r {
        return 200 "r\n";
    }
--- raw_request eval
"GET /r HTTP/1.0\r\n\r\n"
--- response_headers
Content-Length: 2
_EOC_

    is(fails($rc, $tap), 0, "runner: counting suite passes") or diag($tap);
    is(count_lines($tap, qr/^ok \d+/), 48, "runner: 48 tests counted")
        or diag($tap);
}


# 3. SKIP and LAST select blocks, and so does ONLY.
{
    my $blocks = <<'_EOC_';
=== TEST 1: first
--- config
    location = /t {
        return 200 "t\n";
    }
--- request
GET /t
--- response_body
t



=== TEST 2: skipped
--- SKIP
--- config
    location = /t {
        return 200 "t\n";
    }
--- request
GET /t
--- response_body
t



=== TEST 3: last
--- LAST
--- config
    location = /t {
        return 200 "t\n";
    }
--- request
GET /t
--- response_body
t



=== TEST 4: after last
--- config
    location = /t {
        return 200 "t\n";
    }
--- request
GET /t
--- response_body
t
_EOC_

    my ($rc, $tap) = run_child(sprintf($head, 1, '2 * blocks()') . $blocks);

    is(fails($rc, $tap), 0, "runner: SKIP / LAST suite passes") or diag($tap);
    is(join(",", $tap =~ /^ok \d+ - \S+ (TEST \d+):.*? - status code ok/mg),
       "TEST 1,TEST 3", "runner: SKIP and LAST select blocks");

    (my $only = $blocks) =~ s/--- LAST\n//;
    $only =~ s/(=== TEST 4: after last\n)/$1--- ONLY\n/;

    ($rc, $tap) = run_child(sprintf($head, 1, '2 * blocks()') . $only);

    is(fails($rc, $tap), 0, "runner: ONLY suite passes") or diag($tap);
    is(join(",", $tap =~ /^ok \d+ - \S+ (TEST \d+):.*? - status code ok/mg),
       "TEST 4", "runner: ONLY selects one block");
}


# 4. A server that does not answer within --- timeout is a failure.
{
    my ($rc, $tap) = run_child(sprintf($head, 1, 1) . <<'_EOC_');
=== TEST 1: incomplete request
--- config
    location = /t {
        return 200 "t\n";
    }
--- raw_request eval
"GET /t HTTP/1.1\r\nHost: localhost\r\n"
--- timeout: 0.5
--- error_code: 200
_EOC_

    is(fails($rc, $tap), 1, "runner: a socket timeout fails the suite");
    like($tap, qr/^not ok \d+ - ERROR: client socket timed out/m,
         "runner: socket timeout reported") or diag($tap);
}


# 5. An unset $TEST_NGINX_ variable in a config is a bail out.
{
    my ($rc, $tap) = run_child(sprintf($head, 1, 1) . <<'_EOC_');
=== TEST 1: unset variable
--- config
    location = /t {
        return 200 "$TEST_NGINX_LLMGW_RUNNER_UNSET\n";
    }
--- request
GET /t
_EOC_

    like($tap, qr/^Bail out!.*No environment TEST_NGINX_LLMGW_RUNNER_UNSET/m,
         "runner: unset \$TEST_NGINX_ variable bails out") or diag($tap);
}


# 6. Own runner only: a sanitizer report in error.log fails the block, and
# an HTTP/2 block without HTTP/2 support is skipped with its full count.
SKIP: {
    skip "checks of t/lib's runner only", 4 if !$OwnRunner;

    my ($rc, $tap) = run_child(sprintf($head, 1, 1) . <<'_EOC_');
=== TEST 1: report in the log
--- config
    location /san/ {
        return 200 "t\n";
    }
--- request
GET /san/ERROR:%20AddressSanitizer:%20heap-use-after-free
_EOC_

    is(fails($rc, $tap), 1, "runner: sanitizer report fails the suite");
    like($tap, qr/^not ok \d+ - .* - sanitizer report in error\.log/m,
         "runner: sanitizer report named") or diag($tap);

    my $fake = "$ChildDir/nginx-no-h2";
    my $real = $ENV{TEST_NGINX_BINARY} || 'nginx';
    open my $out, '>', $fake or die "cannot write $fake: $!";
    print $out <<"_EOC_";
#!/bin/sh
if [ "\$1" = -V ]; then
    "$real" -V 2>&1 | sed 's/--with-http_v2_module//' >&2
    exit 0
fi
exec "$real" "\$@"
_EOC_
    close $out;
    chmod 0755, $fake;

    ($rc, $tap) = run_child(sprintf($head, 2, 6) . <<'_EOC_',
=== TEST 1: h2 without support
--- http2
--- config
    location = /t {
        return 200 "t\n";
    }
--- request
GET /t
--- response_body
t
--- no_error_log
[error]
_EOC_
        TEST_NGINX_BINARY => $fake);

    is(fails($rc, $tap), 0, "runner: HTTP/2 block passes as skipped")
        or diag($tap);
    is(count_lines($tap, qr/^ok \d+ # skip .*HTTP\/2 being unsupported/), 6,
       "runner: HTTP/2 block skipped with its 6 tests") or diag($tap);
}


run_tests();

__DATA__

=== TEST 1: return, headers present and absent, no error
--- test_count: 7
--- config
    location = /t {
        return 200 "hello\n";
    }
--- request
GET /t
--- response_headers
Content-Type: text/plain
Content-Length: 6
!X-Absent
--- response_body
hello
--- no_error_log
[error]
[alert]



=== TEST 2: user_files with >>> (sub-directory, modification time)
--- test_count: 5
--- user_files
>>> sub/a.txt
file a
>>> dated.txt 200001020304.05
dated
--- config
    location /none {
        return 404;
    }
--- request eval
["GET /sub/a.txt", "GET /dated.txt"]
--- response_headers eval
["", "Last-Modified: Sun, 02 Jan 2000 03:04:05 GMT"]
--- response_body eval
["file a\n", "dated\n"]



=== TEST 3: request body trimmed, Content-Length added
--- test_count: 2
--- config
    location = /echo {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/inner;
        proxy_set_header X-Body $request_body;
        proxy_set_header X-Len $content_length;
    }
    location = /inner {
        return 200 "len=$http_x_len body=[$http_x_body]\n";
    }
--- request
POST /echo
   hello world
--- response_body
len=11 body=[hello world]



=== TEST 4: requests in sequence with their own headers, codes, log lines
--- test_count: 8
--- config
    location = /h {
        return 200 "h=$http_x_a\n";
    }
    location = /g {
        return 410 "gone $http_x_a\n";
    }
--- request eval
["GET /h", "GET /g"]
--- more_headers eval
["X-A: one", "X-A: two"]
--- error_code eval
[200, 410]
--- response_body_like eval
["^h=one\$", "^gone two\$"]
--- error_log eval
[qr/http request line: "GET \/[hg] HTTP\/1\.1"/, "http finalize request"]



=== TEST 5: pipelined requests on one connection
--- test_count: 11
--- config
    location = /p1 {
        add_header X-P 1;
        return 200 "p1\n";
    }
    location = /p2 {
        return 404 "gone\n";
    }
    location = /p3 {
        add_header X-P 3;
        return 200 "p3\n";
    }
--- pipelined_requests eval
["GET /p1", "GET /p2", "GET /p3"]
--- error_code eval
[200, 404, 200]
--- response_headers eval
["X-P: 1", "", "X-P: 3"]
--- response_body eval
["p1\n", "gone\n", "p3\n"]
--- no_error_log
[error]



=== TEST 6: raw_request sent as is (HTTP/1.0)
--- test_count: 4
--- config
    location = /raw {
        return 200 "raw $server_protocol\n";
    }
--- raw_request eval
"GET /raw HTTP/1.0\r\nHost: localhost\r\n\r\n"
--- response_headers
Connection: close
!Transfer-Encoding
--- response_body
raw HTTP/1.0



=== TEST 7: chunked response decoded (SSI)
--- test_count: 4
--- user_files
>>> ssi/page.html
before <!--# echo var="llmgw_var" --> after
--- config
    location /ssi/ {
        set $llmgw_var "VALUE";
        ssi on;
        root html;
    }
--- request
GET /ssi/page.html
--- response_headers
Transfer-Encoding: chunked
!Content-Length
--- response_body
before VALUE after



=== TEST 8: error_log strings and regexes, no_error_log regex
--- test_count: 4
--- config
    location = /t {
        return 200;
    }
--- request
GET /nope.html
--- error_code: 404
--- error_log eval
["No such file or directory", qr/open\(\) ".*\/nope\.html" failed/]
--- no_error_log eval
qr/\[(emerg|alert)\]/



=== TEST 9: init, wait and timeout sections
--- test_count: 2
--- init
open my $out, '>', html_dir() . "/init.txt" or die $!;
print $out "from init\n";
close $out;
--- config
    location = /t {
        return 200;
    }
--- request
GET /init.txt
--- wait: 0.1
--- timeout: 5
--- response_body
from init



=== TEST 10: no --- config: the previous block's nginx is reused
--- test_count: 2
--- request
GET /init.txt
--- response_body
from init



=== TEST 11: add_block_preprocessor
--- test_count: 2
--- config
    location = /pp {
        return 200 "$runner_pp\n";
    }
--- request
GET /pp
--- response_body
from-preprocessor



=== TEST 12: $TEST_NGINX_ variables in config, $ServerPort in expectations
--- test_count: 3
--- config
    location = /port {
        add_header X-Port $TEST_NGINX_SERVER_PORT;
        return 200 "port=$server_port\n";
    }
--- request
GET /port
--- response_headers
X-Port: $ServerPort
--- response_body
port=$ServerPort



=== TEST 13: HTTP/2 (through curl)
--- test_count: 3
--- http2
--- config
    location = /h2 {
        return 200 "proto=$server_protocol\n";
    }
--- request
GET /h2
--- response_headers
Content-Type: text/plain
--- response_body
proto=HTTP/2.0



=== TEST 14: skipped block
--- SKIP
--- test_count: 1000
--- config
    location = /t {
        return 500;
    }
--- request
GET /t



=== TEST 15: response_body eval with a regex, comments before the request
--- test_count: 2
--- config
    location = /t {
        return 200 "hellllo\n";
    }
--- request
    # a comment line
GET /t HTTP/1.0
--- response_body eval
qr/^hel+o$/



=== TEST 16: abort: a timed-out request that is expected
--- test_count: 1
--- config
    location = /t {
        return 200;
    }
--- raw_request eval
"GET /t HTTP/1.1\r\nHost: localhost\r\n"
--- timeout: 0.3
--- abort
--- error_code:



=== TEST 17: more_headers override Host and Connection
--- test_count: 2
--- config
    location = /host {
        return 200 "$host $http_connection\n";
    }
--- request
GET /host
--- more_headers
Host: example.com
Connection: close
--- response_body
example.com close



=== TEST 18: request split in packets with a delay, headers like
--- test_count: 4
--- config
    location = /echo {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/inner;
        proxy_set_header X-Body $request_body;
    }
    location = /inner {
        return 200 "body=[$http_x_body]\n";
    }
--- request eval
[["POST /echo\nhel", {value => "lo", delay_before => 0.05}]]
--- response_headers_like
Server: nginx(/[\d.]+)?
Content-Type: text/.*
--- response_body
body=[hello]



=== TEST 19: user_files as an eval array, access_log
--- test_count: 3
--- user_files eval
[["e.txt", "from eval\n"]]
--- config
    location = /t {
        return 200;
    }
--- request
GET /e.txt
--- response_body
from eval
--- access_log eval
[qr{"GET /e\.txt HTTP/1\.1" 200 10}]



=== TEST 20: $TEST_NGINX_ variables in pipelined requests
--- test_count: 4
--- config
    location /v/ {
        return 200 "uri=$uri\n";
    }
--- pipelined_requests eval
['GET /v/$TEST_NGINX_SERVER_PORT', 'GET /v/b']
--- response_body_like eval
["^uri=/v/\\d+\$", "^uri=/v/b\$"]



=== TEST 21: $TEST_NGINX_ variables in response_body and grep_error_log_out
--- test_count: 3
--- config
    location = /v {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/inner;
    }
    location = /inner {
        return 200 "port=$server_port\n";
    }
--- request
GET /v
--- response_body
port=$TEST_NGINX_SERVER_PORT
--- grep_error_log eval
qr/connect to 127\.0\.0\.1:\d+/
--- grep_error_log_out
connect to 127.0.0.1:$TEST_NGINX_SERVER_PORT
