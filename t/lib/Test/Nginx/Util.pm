package Test::Nginx::Util;

# llmgw's stand-in for the CPAN Test::Nginx::Util (openresty/test-nginx).
#
# Used only when the CPAN Test::Nginx is not installed (t/run-tests.sh puts
# t/lib on PERL5LIB in that case).  Written for this project; it follows the
# documented and observable behaviour of Test::Nginx 0.29 so that the same
# .t files, and the same `plan tests => ...` arithmetic, work under both:
#
#   * server root t/servroot (TEST_NGINX_SERVROOT) with conf/ logs/ html/,
#     recreated whenever a block with a --- config section starts nginx;
#   * nginx.conf of the same shape (main_config with the load_module lines
#     of TEST_NGINX_LOAD_MODULES appended, http_config, the test server on
#     TEST_NGINX_SERVER_PORT with --- config inside, root location);
#   * $TEST_NGINX_* variables expanded in config, http_config, main_config,
#     post_main_config and user_files, and (Socket.pm) in pipelined
#     requests, a string response_body and a string grep_error_log_out; a
#     missing one is a bail out;
#   * daemon on, master_process off unless master_on(), one worker;
#   * error.log read from where the previous check stopped, so every
#     request of a block is checked against its own log lines.
#
# Differences, all deliberate:
#   * the test server listens on 127.0.0.1 only (server_addr());
#   * nginx is stopped after each block (unless the next block has no
#     --- config and so reuses it), and its error.log is then scanned for
#     AddressSanitizer / LeakSanitizer / UBSan reports, which fail the file;
#   * TEST_NGINX_USE_VALGRIND writes valgrind's reports to logs/ and fails
#     the block when there is one;
#   * nginx gets "-e logs/error.log" so start-up errors land in error.log
#     (as with nginx builds whose default error log is under the prefix);
#   * a block whose nginx fails to start for a reason other than a busy
#     port bails out at once with the [emerg] line instead of after 30 s.

use strict;
use warnings;

our $VERSION = '0.29';

use base 'Exporter';

use Carp qw(croak);
use Config ();
use Cwd ();
use File::Path qw(make_path remove_tree);
use File::Spec ();
use IO::Select ();
use IO::Socket::INET ();
use IPC::Open3 qw(open3);
use List::Util qw(shuffle);
use POSIX qw(SIGQUIT SIGKILL SIGTERM :sys_wait_h);
use Symbol qw(gensym);
use Time::HiRes qw(sleep time);

our $Verbose              = $ENV{TEST_NGINX_VERBOSE};
our $NginxBinary          = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $LoadModules          = $ENV{TEST_NGINX_LOAD_MODULES};
our $UseValgrind          = $ENV{TEST_NGINX_USE_VALGRIND};
our $UseHttp2             = $ENV{TEST_NGINX_USE_HTTP2};
our $UseHup               = $ENV{TEST_NGINX_USE_HUP};
our $NoShuffle            = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $NoNginxManager       = $ENV{TEST_NGINX_NO_NGINX_MANAGER} || 0;
our $Timeout              = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $CheckAccumErrLog     = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $Randomize            = $ENV{TEST_NGINX_RANDOMIZE};
our $EventType            = $ENV{TEST_NGINX_EVENT_TYPE};
our $PostponeOutput       = $ENV{TEST_NGINX_POSTPONE_OUTPUT};
our $WorkerUser           = $ENV{TEST_NGINX_WORKER_USER};
our $TestNginxSleep       = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $LogLevel             = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $ForceRestartOnTest   = defined $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST}
                            ? $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST} : 1;
our $DaemonEnabled        = 'on';
our $ServerAddr           = '127.0.0.1';
our $ServerName           = 'localhost';
our $ServerPort           = $ENV{TEST_NGINX_SERVER_PORT}
                            || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerPortForClient  = $ENV{TEST_NGINX_CLIENT_PORT}
                            || $ServerPort || 1984;
our $Workers              = 1;
our $WorkerConnections    = 64;
our $RepeatEach           = 1;
our $NoLongString;
our $NoRootLocation       = 0;
our $ConfigPreamble       = '';
our $FilterHttpConfig;

# Modes of the CPAN runner that this one does not implement; exported
# because Test::Nginx::Socket code and some suites test them.
our $CheckLeak       = 0;
our $Benchmark       = 0;
our $BenchmarkWarmup = 0;
our $UseStap;

our @EnvToNginx;
our @BlockPreprocessors;
our @CleanupHandlers;

our ($RunTestHelper, $CheckErrorLog, $CheckShutdownErrorLog);
our ($NginxVersion, $NginxRawVersion, $OpenSSLVersion, $NginxV);
our ($PrevConfig, $PrevBlock, $ChildPid, $InSubprocess);
our $ErrLogFilePos = 0;
our $NginxBlock;
our $RandPorts;         # the block's $TEST_NGINX_RAND_PORT_N, for Socket.pm
our $Active;
our $FirstTime = 1;

sub bail_out (@);
sub is_running ($);
sub kill_process ($$$);
sub gen_rand_port (;$$);

if ($UseValgrind) {
    $DaemonEnabled = 'off';
}

srand $$;

if ($Randomize) {
    $ServerPort = gen_rand_port(1000);
    if (!defined $ServerPort) {
        bail_out("Cannot find an available listening port number");
    }
    $ServerPortForClient = $ServerPort;
}

our $ServRoot;

if ($Randomize) {
    $ServRoot = File::Spec->rel2abs("t/servroot_" . $ServerPort);

} else {
    $ServRoot = $ENV{TEST_NGINX_SERVROOT}
                || File::Spec->rel2abs('t/servroot');
}

$ServRoot = File::Spec->rel2abs($ServRoot);
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $LogDir     = File::Spec->catfile($ServRoot, 'logs');
our $ErrLogFile = File::Spec->catfile($LogDir, 'error.log');
our $AccLogFile = File::Spec->catfile($LogDir, 'access.log');
our $HtmlDir    = File::Spec->catfile($ServRoot, 'html');
our $ConfDir    = File::Spec->catfile($ServRoot, 'conf');
our $ConfFile   = File::Spec->catfile($ConfDir, 'nginx.conf');
our $PidFile    = File::Spec->catfile($LogDir, 'nginx.pid');

our @EXPORT = qw(
    use_http2
    use_http3
    env_to_nginx
    is_str
    is_string
    check_accum_error_log
    is_running
    $NoLongString
    no_long_string
    $ServerAddr
    server_addr
    $ServerName
    server_name
    parse_time
    $UseStap
    verbose
    sleep_time
    stap_out_fh
    stap_out_fname
    bail_out
    add_cleanup_handler
    access_log_data
    error_log_data
    setup_server_root
    write_config_file
    get_canon_version
    get_nginx_version
    expand_env_in_text
    trim
    show_all_chars
    parse_headers
    run_tests
    run_test
    get_pid_from_pidfile
    $ServerPortForClient
    $ServerPort
    $NginxVersion
    $PidFile
    $ServRoot
    $ConfFile
    $RunTestHelper
    $CheckErrorLog
    $CheckShutdownErrorLog
    $FilterHttpConfig
    $NoNginxManager
    $RepeatEach
    $CheckLeak
    $Benchmark
    $BenchmarkWarmup
    add_block_preprocessor
    timeout
    worker_connections
    workers
    master_on
    master_off
    config_preamble
    repeat_each
    master_process_enabled
    log_level
    no_shuffle
    no_root_location
    html_dir
    server_root
    server_port
    server_port_for_client
    no_nginx_manager
    use_hup
);


# ---------------------------------------------------------------------------
# Settings used by the .t files.

sub no_long_string () {
    $NoLongString = 1;
}


sub server_addr (@) {
    if (@_) {
        $ServerAddr = shift;
        return;
    }

    return $ServerAddr;
}


sub server_name (@) {
    if (@_) {
        $ServerName = shift;
        return;
    }

    return $ServerName;
}


sub timeout (@) {
    if (@_) {
        $Timeout = shift;
        return;
    }

    return $Timeout;
}


sub no_shuffle () {
    $NoShuffle = 1;
}


sub no_nginx_manager () {
    $NoNginxManager = 1;
}


sub use_hup () {
    warn "WARNING: use_hup() is not supported by this runner; ignored\n";
}


sub env_to_nginx (@) {
    if (!@_) {
        croak "env_to_nginx: no arguments specified";
    }

    for my $v (@_) {
        if ($v !~ /^[A-Za-z_]/ || $v =~ /\n/) {
            croak "env_to_nginx: bad argument value: $v\n";
        }

        push @EnvToNginx, $v;
    }
}


sub sleep_time {
    return $TestNginxSleep;
}


sub verbose {
    return $Verbose;
}


sub stap_out_fh {
    return undef;
}


sub stap_out_fname {
    return undef;
}


sub server_port (@) {
    if (@_) {
        $ServerPort = shift;
        return;
    }

    return $ServerPort;
}


sub server_port_for_client (@) {
    if (@_) {
        $ServerPortForClient = shift;
        return;
    }

    return $ServerPortForClient;
}


sub repeat_each (@) {
    if (@_) {
        $RepeatEach = shift;
    }

    return $RepeatEach;
}


sub worker_connections (@) {
    if (@_) {
        $WorkerConnections = shift;
        return;
    }

    return $WorkerConnections;
}


sub no_root_location () {
    $NoRootLocation = 1;
}


sub workers (@) {
    if (@_) {
        $Workers = shift;
        return;
    }

    return $Workers;
}


sub log_level (@) {
    if (@_) {
        $LogLevel = shift;
        return;
    }

    return $LogLevel;
}


sub check_accum_error_log () {
    $CheckAccumErrLog = 1;
}


sub master_on () {
    $MasterProcessEnabled = 'on';
}


sub master_off () {
    $MasterProcessEnabled = 'off';
}


sub master_process_enabled (@) {
    if (@_) {
        $MasterProcessEnabled = shift() ? 'on' : 'off';
        return;
    }

    return $MasterProcessEnabled;
}


sub config_preamble ($) {
    $ConfigPreamble = shift;
}


sub add_block_preprocessor (&) {
    unshift @BlockPreprocessors, shift;
}


sub add_cleanup_handler ($) {
    unshift @CleanupHandlers, shift;
}


sub html_dir () {
    return $HtmlDir;
}


sub server_root () {
    return $ServRoot;
}


# ---------------------------------------------------------------------------
# Small helpers shared with Test::Nginx::Socket.

sub is_string ($$;$) {
    my ($got, $expected, $desc) = @_;

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    if (!defined $got || !defined $expected
        || length($got) + length($expected) < 160)
    {
        return Test::More::is($got, $expected, $desc);
    }

    if ($got eq $expected) {
        return Test::More::ok(1, $desc);
    }

    # Long strings: show where they start to differ, as Test::LongString.
    my $n = 0;
    my $max = length($got) < length($expected)
              ? length($got) : length($expected);
    $n++ while $n < $max && substr($got, $n, 1) eq substr($expected, $n, 1);

    my $from = $n > 20 ? $n - 20 : 0;
    my $ret = Test::More::ok(0, $desc);

    Test::More::diag(sprintf("         got: \"%s\"...\n"
                             . "      length: %d\n"
                             . "    expected: \"%s\"...\n"
                             . "      length: %d\n"
                             . "    strings begin to differ at char %d",
                             show_all_chars(substr($got, $from, 60)),
                             length($got),
                             show_all_chars(substr($expected, $from, 60)),
                             length($expected), $n + 1));
    return $ret;
}


sub is_str (@) {
    my ($got, $expected, $desc) = @_;

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    if (ref $expected && ref $expected eq 'Regexp') {
        return Test::More::like($got, $expected, $desc);
    }

    if ($NoLongString) {
        return Test::More::is($got, $expected, $desc);
    }

    return is_string($got, $expected, $desc);
}


sub parse_time ($) {
    my $tm = shift;

    if (defined $tm) {
        if ($tm =~ s/([^_a-zA-Z])ms$/$1/) {
            $tm = $tm / 1000;

        } else {
            $tm =~ s/([^_a-zA-Z])s$/$1/;
        }
    }

    return $tm;
}


sub trim ($) {
    my $s = shift;

    return undef if !defined $s;

    $s =~ s/^\s+|\s+$//g;
    $s =~ s/\n/ /gs;
    $s =~ s/\s{2,}/ /gs;
    return $s;
}


sub show_all_chars ($) {
    my $s = shift;

    $s =~ s/\n/\\n/gs;
    $s =~ s/\r/\\r/gs;
    $s =~ s/\t/\\t/gs;
    return $s;
}


# "Name: value" lines, "!Name" for an absent header; one hash entry per
# name, as the CPAN runner (so a repeated name is one test).
sub parse_headers ($) {
    my $s = shift;
    my %headers;

    open my $in, '<', \$s;

    while (<$in>) {
        s/^\s+|\s+$//g;

        my $neg = ($_ =~ s/^!\s*//);

        if ($neg) {
            $headers{$_} = undef;

        } else {
            my ($key, $val) = split /\s*:\s*/, $_, 2;
            $key = '' if !defined $key;
            $headers{$key} = $val;
        }
    }

    close $in;
    return \%headers;
}


sub get_canon_version (@) {
    return sprintf "%d.%03d%03d", $_[0], $_[1], $_[2];
}


sub get_canon_version_for_openssl (@) {
    if (defined $_[3]) {
        return sprintf "%d.%03d%03d%03d", $_[0], $_[1], $_[2],
                       ord($_[3]) - ord('a');
    }

    return get_canon_version(@_);
}


sub get_nginx_version () {
    my $out = `$NginxBinary -V 2>&1`;

    if (!defined $out || $? != 0) {
        $out //= '';
        bail_out("Failed to get the version of the Nginx in PATH: $out");
    }

    $NginxV = $out;

    if ($out =~ m{built with OpenSSL (\d+)\.(\d+)\.(\d+)([a-z])?}s) {
        $OpenSSLVersion = get_canon_version_for_openssl($1, $2, $3, $4);
    }

    if ($out =~ m{(?:nginx|openresty)[^/]*/(\d+)\.(\d+)\.(\d+)}s
        || $out =~ m{\w+/(\d+)\.(\d+)\.(\d+)}s)
    {
        $NginxRawVersion = "$1.$2.$3";
        return get_canon_version($1, $2, $3);
    }

    bail_out("Failed to parse the output of \"nginx -V\": $out\n");
}


sub gen_rand_port (;$$) {
    my ($tries, $used_ports) = @_;

    $tries //= 1000;
    $used_ports //= {};

    for (my $i = 0; $i < $tries; $i++) {
        my $port = int(rand 63550) + 1985;

        next if $used_ports->{$port};

        my $sock = IO::Socket::INET->new(LocalAddr => $ServerAddr,
                                         LocalPort => $port,
                                         Proto     => 'tcp',
                                         Timeout   => 0.1);
        if (defined $sock) {
            $sock->close();
            return $port;
        }
    }

    return undef;
}


# Replaces $TEST_NGINX_NAME by the environment's value; a name that is not
# set is a bail out, as in the CPAN runner.  $TEST_NGINX_RAND_PORT_N gets a
# free port, the same one everywhere in the block.
sub expand_env_in_text ($$$) {
    my ($text, $name, $rand_ports) = @_;

    return undef if !defined $text;

    my $used_ports = { $ServerPort => 1, map { $_ => 1 } values %$rand_ports };

    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        my $val;

        if ($var =~ /^TEST_NGINX_RAND_PORT_[0-9]+$/) {
            if (!defined $rand_ports->{$var}) {
                my $port = gen_rand_port(1000, $used_ports);
                if (!defined $port) {
                    bail_out("$name - Cannot find an available listening "
                             . "port number for $var.\n");
                }
                $rand_ports->{$var} = $port;
                $used_ports->{$port} = 1;
            }
            $val = $rand_ports->{$var};

        } else {
            if (!defined $ENV{$var}) {
                bail_out("$name - No environment $var defined.\n");
            }
            $val = $ENV{$var};
        }

        $val;
    }eg;

    return $text;
}


# ---------------------------------------------------------------------------
# Processes.

sub is_running ($) {
    my $pid = shift;

    return 0 if !$pid;

    # Reap it if it is our child; a zombie is not running.
    waitpid($pid, WNOHANG);

    return 0 if !kill(0, $pid);

    if (open my $st, '<', "/proc/$pid/stat") {
        my $line = <$st>;
        close $st;

        return 0 if defined $line && $line =~ /^\d+ \(.*\) [ZX]/s;
    }

    return 1;
}


sub kill_process ($$$) {
    my ($pid, $wait, $name) = @_;

    return if !is_running($pid);

    if ($wait) {
        kill(SIGQUIT, $pid);

        my $left = timeout();
        if ($UseValgrind) {
            $left *= 5;
        }

        while ($left > 0 && is_running($pid)) {
            sleep 0.02;
            $left -= 0.02;
        }

        if (is_running($pid)) {
            warn "$name - timeout when waiting for the process $pid to exit\n";
        }
    }

    my $step = $TestNginxSleep;

    for (my $i = 1; $i <= 20 && is_running($pid); $i++) {
        kill(SIGTERM, $pid);
        $step *= 1.2;
        $step = 0.5 if $step > 0.5;
        sleep $step;
    }

    if (is_running($pid)) {
        warn "$name - WARNING: killing the child process $pid with force...\n";
        kill(SIGKILL, $pid);
        sleep 0.05;
        waitpid($pid, WNOHANG);
    }
}


sub get_pid_from_pidfile ($) {
    my ($name) = @_;

    open my $in, '<', $PidFile
        or bail_out("$name - Failed to open the pid file $PidFile "
                    . "for reading: $!");
    my $pid = do { local $/; <$in> };
    close $in;

    $pid = '' if !defined $pid;
    chomp $pid;
    return $pid;
}


sub read_pid_file () {
    open my $in, '<', $PidFile or return undef;
    my $pid = do { local $/; <$in> };
    close $in;

    return undef if !defined $pid || $pid !~ /^\s*(\d+)/;
    return $1;
}


sub cleanup () {
    for my $hdl (@CleanupHandlers) {
        $hdl->();
    }

    if (defined $ChildPid) {
        kill_process($ChildPid, 1, "cleanup");
        undef $ChildPid;
    }
}


sub bail_out (@) {
    cleanup();

    my $pid = read_pid_file();
    if ($pid && is_running($pid)) {
        kill_process($pid, 1, "bail out");
    }

    Test::More::BAIL_OUT(join '', @_);
}


# Runs a command with a time limit; returns (exit status or undef on
# timeout, stdout, stderr).
sub run_capture ($$) {
    my ($cmd, $limit) = @_;

    my ($in, $out, $err) = (gensym, gensym, gensym);
    my $pid = eval { open3($in, $out, $err, @$cmd) };

    if (!$pid) {
        return (undef, '', "cannot run $cmd->[0]: $@");
    }

    close $in;

    my %buf = ($out => '', $err => '');
    my $sel = IO::Select->new($out, $err);
    my $deadline = time + $limit;
    my $timed_out;

    while ($sel->count) {
        my $left = $deadline - time;
        if ($left <= 0) {
            $timed_out = 1;
            last;
        }

        for my $fh ($sel->can_read($left)) {
            my $n = sysread($fh, my $chunk, 65536);
            if (!$n) {
                $sel->remove($fh);
                next;
            }
            $buf{$fh} .= $chunk;
        }
    }

    if ($timed_out) {
        kill(SIGKILL, $pid);
    }

    waitpid($pid, 0);
    my $status = $?;

    return ($timed_out ? undef : $status, $buf{$out}, $buf{$err});
}


# ---------------------------------------------------------------------------
# Logs.

sub error_log_data () {
    # the log phase runs after the connection is closed
    sleep $TestNginxSleep * 3;

    open my $in, '<', $ErrLogFile or return [];

    if (!$CheckAccumErrLog && $ErrLogFilePos > 0) {
        seek $in, $ErrLogFilePos, 0;
    }

    my @lines = <$in>;

    if (!$CheckAccumErrLog) {
        $ErrLogFilePos = tell($in);
    }

    close $in;
    return \@lines;
}


sub access_log_data () {
    sleep $TestNginxSleep * 3;

    open my $in, '<', $AccLogFile
        or die "open $AccLogFile failed: $!";
    my @lines = <$in>;
    close $in;

    return \@lines;
}


# ---------------------------------------------------------------------------
# Server root and nginx.conf.

sub setup_server_root () {
    if (-d $ServRoot) {
        # remove only what this runner creates, never unknown user data
        remove_tree($ConfDir, glob("$ServRoot/*_cache"),
                    glob("$ServRoot/*_temp"), $HtmlDir, $LogDir);
        rmdir $ServRoot
            or bail_out("Can't remove $ServRoot (not empty?): $!");
    }

    make_path($ServRoot);
    if (!-d $ServRoot) {
        bail_out("Failed to do mkdir $ServRoot\n");
    }

    for my $dir ($LogDir, $HtmlDir, $ConfDir) {
        mkdir $dir or bail_out("Failed to do mkdir $dir\n");
    }

    my $index = "$HtmlDir/index.html";
    open my $out, '>', $index
        or bail_out("Can't open $index for writing: $!\n");
    print $out '<html><head><title>It works!</title></head>'
               . '<body>It works!</body></html>';
    close $out;
}


# --- user_files: ">>> path [touch-time]" then the content; relative paths
# are under html/; also an eval array of [path, content, time].
sub write_user_files ($$) {
    my ($block, $rand_ports) = @_;

    my $name = $block->name;
    my $files = $block->user_files;

    return if !$files;

    if (!ref $files) {
        my $raw = $files;
        my ($fname, $body, $date);

        $files = [];

        open my $in, '<', \$raw;
        while (<$in>) {
            if (/>>> (\S+)(?:\s+(.+))?/) {
                if ($fname) {
                    push @$files, [$fname, $body, $date];
                }
                ($fname, $date) = ($1, $2);
                undef $body;

            } else {
                $body .= $_;
            }
        }
        close $in;

        if ($fname) {
            push @$files, [$fname, $body, $date];
        }

    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - wrong value type: ", ref $files,
                 ", only scalar or ARRAY are accepted");
    }

    for my $file (@$files) {
        my ($fname, $body, $date) = @$file;

        $body = '' if !defined $body;

        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";

        if ($path =~ m{(.*)/} && !-d $1) {
            make_path($1) or bail_out("$name - Cannot create directory $1");
        }

        $body = expand_env_in_text($body, $name, $rand_ports);

        open my $out, '>', $path
            or bail_out("$name - Cannot open $path for writing: $!\n");
        binmode $out;
        print $out $body;
        close $out;

        if ($date) {
            my $cmd = "TZ=GMT touch -t '$date' '$path'";
            system($cmd) == 0
                or bail_out("Failed to run shell command: $cmd\n");
        }
    }
}


sub write_config_file ($$$) {
    my ($block, $config, $rand_ports) = @_;

    my $name = $block->name;
    my $http_config = $block->http_config;
    my $main_config = $block->main_config;
    my $post_main_config = $block->post_main_config;
    my $err_log_file = $block->error_log_file || $ErrLogFile;
    my $server_name = $block->server_name;

    $http_config = expand_env_in_text($http_config, $name, $rand_ports);

    $config = '' if !defined $config;
    $http_config = '' if !defined $http_config;

    if ($FilterHttpConfig) {
        $http_config = $FilterHttpConfig->($http_config);
    }

    my $postpone = $PostponeOutput;
    if ($http_config =~ /\bpostpone_output\b/) {
        undef $postpone;
    }

    my $extra_http_config = '';
    if (defined $postpone) {
        if ($postpone !~ /^\d+$/) {
            bail_out("Bad TEST_NGINX_POSTPONE_OUTPUT value: $postpone\n");
        }
        $extra_http_config = "\n    postpone_output $postpone;\n";
    }

    $main_config = '' if !defined $main_config;

    if ($LoadModules) {
        my @modules = map { "load_module $_;" } grep { $_ }
                      split /\s+/, $LoadModules;
        if (@modules) {
            $main_config .= join " ", @modules;
        }
    }

    $main_config = expand_env_in_text($main_config, $name, $rand_ports);

    $post_main_config = '' if !defined $post_main_config;
    $post_main_config = expand_env_in_text($post_main_config, $name,
                                           $rand_ports);

    $server_name = $ServerName if !defined $server_name;

    my $listen_opts = '';
    if (use_http2($block)) {
        $listen_opts .= ' http2';
    }

    my $env = '';
    for my $v (@EnvToNginx) {
        my $e = $v =~ /\s/ ? "'$v'" : $v;
        $env .= "env $e;\n";
    }

    my $root_location = '';
    if (!$NoRootLocation) {
        $root_location = <<_EOC_;
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_
    }

    my $events_use = $EventType ? "    use $EventType;\n" : '';

    my $user = '';
    if (defined $WorkerUser) {
        $user = "user $WorkerUser;\n";

    } elsif ($> == 0) {
        $user = "user root;\n";
    }

    open my $out, '>', $ConfFile
        or bail_out("Can't open $ConfFile for writing: $!\n");

    print $out <<_EOC_;
worker_processes  $Workers;
daemon $DaemonEnabled;
master_process $MasterProcessEnabled;
error_log $err_log_file $LogLevel;
pid       $PidFile;
env MOCKEAGAIN_VERBOSE;
env MOCKEAGAIN;
env MOCKEAGAIN_WRITE_TIMEOUT_PATTERN;
env LD_PRELOAD;
env LD_LIBRARY_PATH;
env DYLD_INSERT_LIBRARIES;
env DYLD_FORCE_FLAT_NAMESPACE;
${env}
$main_config

http {
    access_log $AccLogFile;

    default_type text/plain;
    keepalive_timeout  68;

$http_config

    server {
        listen          $ServerAddr:$ServerPort$listen_opts;
        server_name     '$server_name';

        client_max_body_size 30M;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_location    }
$extra_http_config
}

$post_main_config

events {
    accept_mutex off;

    worker_connections  $WorkerConnections;
$events_use}
env ASAN_OPTIONS;
env UBSAN_OPTIONS;
env LSAN_OPTIONS;
env MOCKNOEAGAIN_VERBOSE;
env MOCKNOEAGAIN;
$user
_EOC_

    close $out;
}


# ---------------------------------------------------------------------------
# HTTP/2 (--- http2, TEST_NGINX_USE_HTTP2): requests go through curl as in
# the CPAN runner; without an nginx built with ngx_http_v2_module or a curl
# with HTTP/2 the block's tests are reported as skipped, same count.

my $Http2Unsupported;

sub http2_unsupported () {
    return $Http2Unsupported if defined $Http2Unsupported;

    $Http2Unsupported = '';

    my $v = $NginxV // `$NginxBinary -V 2>&1`;
    if ($v !~ /--with-http_v2_module/) {
        $Http2Unsupported = "$NginxBinary has no ngx_http_v2_module";
        return $Http2Unsupported;
    }

    my $curl = `curl -V 2>/dev/null`;
    if (!defined $curl || $curl !~ /^Features:.*\bHTTP2\b/m) {
        $Http2Unsupported = "no curl with HTTP/2 support";
    }

    return $Http2Unsupported;
}


sub use_http2 ($) {
    my $block = shift;

    my $cached = $block->test_nginx_enabled_http2;
    return $cached if defined $cached;

    if (defined $block->http2) {
        if ($block->raw_request) {
            bail_out("cannot use --- http2 with --- raw_request");
        }

        if ($block->pipelined_requests) {
            bail_out("cannot use --- http2 with --- pipelined_requests");
        }

        $block->set_value("test_nginx_enabled_http2", 1);
        return 1;
    }

    if ($UseHttp2) {
        my $why;

        if ($block->raw_request) {
            $why = "using raw_request";

        } elsif ($block->pipelined_requests) {
            $why = "using pipelined_requests";

        } elsif (!defined $block->request) {
            $block->set_value("test_nginx_enabled_http2", 0);
            return 0;

        } elsif (!ref $block->request && $block->request =~ m{HTTP/1\.0}s) {
            $why = "explicitly requires HTTP 1.0";
        }

        if ($why) {
            warn "WARNING: ", $block->name, " - $why, will not use HTTP/2\n";
            $block->set_value("test_nginx_enabled_http2", 0);
            return 0;
        }

        $block->set_value("test_nginx_enabled_http2", 1);
        return 1;
    }

    $block->set_value("test_nginx_enabled_http2", 0);
    return 0;
}


sub use_http3 ($) {
    my $block = shift;

    if (defined $block->http3) {
        bail_out($block->name . " - --- http3 is not supported by this "
                 . "runner");
    }

    return 0;
}


# ---------------------------------------------------------------------------
# Starting and stopping nginx.

sub nginx_command () {
    my @cmd = ($NginxBinary, '-p', "$ServRoot/", '-c', $ConfFile);

    # nginx >= 1.19.5: errors before the error_log directive go to
    # logs/error.log too, so --- must_die blocks can check them
    if (defined $NginxVersion && $NginxVersion >= 1.019005) {
        push @cmd, '-e', $ErrLogFile;
    }

    return @cmd;
}


sub error_log_tail ($) {
    my $pat = shift;

    open my $in, '<', $ErrLogFile or return '';
    my @lines = grep { /$pat/ } <$in>;
    close $in;

    splice @lines, 0, @lines - 5 if @lines > 5;
    return join '', @lines;
}


# What nginx itself never frees when a worker exits (its environment, the
# worker's connection and event arrays): allocated with ngx_alloc() by the
# nginx binary itself, so a module's own leaks are still reported.
sub write_valgrind_suppressions ($) {
    my $file = shift;

    my $bin = $NginxBinary =~ m{/} ? $NginxBinary : can_run($NginxBinary);
    $bin = Cwd::realpath($bin) if defined $bin;

    open my $out, '>', $file or bail_out("cannot write $file: $!");

    print $out <<'_EOC_';
{
   nginx-core-environment
   Memcheck:Leak
   match-leak-kinds: definite
   fun:malloc
   fun:ngx_alloc
   fun:ngx_set_environment
   ...
}
{
   nginx-core-event-process-init
   Memcheck:Leak
   match-leak-kinds: definite
   fun:malloc
   fun:ngx_alloc
   fun:ngx_event_process_init
   ...
}
_EOC_

    if (defined $bin) {
        print $out <<_EOC_;
{
   nginx-core-ngx_alloc-at-worker-init
   Memcheck:Leak
   match-leak-kinds: definite
   fun:malloc
   fun:ngx_alloc
   obj:$bin
   ...
   fun:main
}
_EOC_
    }

    close $out;
}


sub can_run ($) {
    my $cmd = shift;

    if ($cmd =~ m{/}) {
        return -f $cmd && -x $cmd ? $cmd : undef;
    }

    for my $dir (split /$Config::Config{path_sep}/, $ENV{PATH} // '') {
        next if $dir eq '';
        my $abs = File::Spec->catfile($dir, $cmd);
        return $abs if -f $abs && -x $abs;
    }

    return undef;
}


sub start_nginx_valgrind ($) {
    my $name = shift;

    my @vg = ('valgrind', '-q', "--log-file=$LogDir/valgrind.%p.log");

    if ($UseValgrind =~ /^\d+$/) {
        my $supp = "$ConfDir/llmgw-nginx-core.supp";
        write_valgrind_suppressions($supp);

        push @vg, '--num-callers=100', '--tool=memcheck',
                  '--leak-check=full', '--show-possibly-lost=no',
                  '--gen-suppressions=all', "--suppressions=$supp";
        if (-f 'valgrind.suppress') {
            push @vg, '--suppressions=valgrind.suppress';
        }

    } else {
        push @vg, split ' ', $UseValgrind;
    }

    my @cmd = (@vg, nginx_command());

    warn "$name\n";

    my $pid = fork();
    if (!defined $pid) {
        bail_out("$name - fork() failed: $!");
    }

    if ($pid == 0) {
        $InSubprocess = 1;
        setpgrp;
        open STDOUT, '>', '/dev/null';
        exec @cmd or POSIX::_exit(127);
    }

    $ChildPid = $pid;

    # valgrind is slow to start: wait for the pid file
    my $left = 60;
    while ($left > 0 && !-s $PidFile) {
        if (!is_running($pid)) {
            bail_out("$name - nginx under valgrind exited at start: "
                     . error_log_tail(qr/\[(?:emerg|alert|crit)\]/));
        }
        sleep 0.05;
        $left -= 0.05;
    }
}


# Starts nginx; returns the exit status of the command (0 for a daemon that
# started).  With $must_die the caller checks the status.
sub start_nginx ($$) {
    my ($name, $must_die) = @_;

    my @cmd = nginx_command();

    if ($Verbose) {
        warn "starting nginx: @cmd\n";
    }

    if ($UseValgrind && !defined $must_die) {
        start_nginx_valgrind($name);
        return 0;
    }

    my $waited = 0;

    for (my $i = 1; ; $i++) {
        my $pid = fork();
        if (!defined $pid) {
            bail_out("$name - fork() failed: $!");
        }

        if ($pid == 0) {
            $InSubprocess = 1;
            open STDOUT, '>', '/dev/null';
            exec @cmd or POSIX::_exit(127);
        }

        waitpid($pid, 0);
        my $status = $?;

        return $status if defined $must_die || $status == 0;

        my $emerg = error_log_tail(qr/\[(?:emerg|alert|crit)\]/);

        if ($emerg =~ /Address already in use/ && $waited < 30) {
            my $delay = 0.1 * $i;
            $delay = 1 if $delay > 1;
            sleep $delay;
            $waited += $delay;
            next;
        }

        bail_out("$name - Cannot start nginx using command \"@cmd\" "
                 . "(status code $status)"
                 . ($emerg ne '' ? ":\n$emerg" : ''));
    }
}


# Stops the nginx of the server root, if any, and checks what it leaves in
# the logs at exit (sanitizer and valgrind reports) under the name of the
# last block that used it.
sub stop_nginx () {
    my $block = $NginxBlock;

    my $name = $block ? $block->name : 'cleanup';

    undef $NginxBlock;

    my $pid = read_pid_file();
    if ($pid && is_running($pid)) {
        kill_process($pid, 1, $name);
    }

    if (defined $ChildPid) {
        kill_process($ChildPid, 1, $name);
        waitpid($ChildPid, 0);
        undef $ChildPid;
    }

    if (-f $PidFile && !($pid && is_running($pid))) {
        unlink $PidFile;
    }

    # nothing to check when no block of this file started nginx
    return if !$block;

    if (defined $block->shutdown_error_log
        || defined $block->no_shutdown_error_log)
    {
        $CheckShutdownErrorLog->($block, $ENV{TEST_NGINX_NO_CLEAN} ? 1 : 0);
    }

    check_exit_reports($block);
}


# What in sanitizer output is a finding about the code under test: every
# AddressSanitizer error and UBSan report, and of a LeakSanitizer report the
# leaks allocated through a frame of a module of TEST_NGINX_LOAD_MODULES.
# nginx itself leaves its worker's connection and event arrays behind at
# exit; those stacks are all in the (stripped) nginx binary and libc, and
# are not findings.
sub sanitizer_findings ($;$) {
    my ($text, $modules) = @_;

    $modules //= [split ' ', $LoadModules // ''];

    # a module frame: in the module's file, in a module already unloaded,
    # or with an absolute source path (only the module has debug info)
    my $mod_re = join '|', '<unknown module>', ' /[^\s:]+:\d+',
                 map { '/' . quotemeta((split m{/}, $_)[-1]) . '\+0x' }
                 @$modules;
    my ($out, $mode, $rec, $n) = ('', '', undef, 0);

    # An indirect leak is memory reachable only from a directly leaked
    # block.  When no direct leak of the same report passes through a
    # module, the indirect ones hang off a leak of nginx itself (e.g. the
    # upstream's last saved SSL session, never freed at exit), even when
    # they were allocated under a module's frame.
    my ($direct, $indirect) = (0, '');

    my $flush = sub {
        if (defined $rec && $rec =~ /$mod_re/) {
            if ($rec =~ /^Indirect/) {
                $indirect .= $rec;

            } else {
                $out .= $rec;
                $direct++;
            }
        }
        undef $rec;
    };

    my $end_leaks = sub {
        $out .= $indirect if $direct;
        ($direct, $indirect) = (0, '');
    };

    for my $line (split /^/m, $text) {
        if ($line =~ /ERROR:\x20AddressSanitizer
                      |SUMMARY:\x20UndefinedBehaviorSanitizer
                      |:\x20runtime\x20error:\x20/x)
        {
            $flush->();
            ($mode, $n) = ('error', 0);

        } elsif ($line =~ /ERROR: LeakSanitizer/) {
            $flush->();
            $mode = 'leak';
            next;

        } elsif ($mode eq 'leak') {
            if ($line =~ /^(?:Direct|Indirect) leak of/) {
                $flush->();
                $rec = '';

            } elsif ($line =~ /^SUMMARY: /) {
                $flush->();
                $end_leaks->();
                $mode = '';
                next;
            }

            $rec .= $line if defined $rec;
            next;
        }

        if ($mode eq 'error') {
            $out .= $line if $n++ < 60;
        }
    }

    $flush->();
    $end_leaks->();

    return $out;
}


sub check_exit_reports ($) {
    my $block = shift;

    my $name = $block->name;

    if (open my $in, '<', $ErrLogFile) {
        my $log = do { local $/; <$in> };
        close $in;

        my $report = sanitizer_findings($log // '');

        if ($report ne '') {
            Test::More->builder->no_ending(1);
            Test::More::fail("$name - sanitizer report in error.log");
            Test::More::diag($report);
        }
    }

    for my $file (glob "$LogDir/valgrind.*.log") {
        next if !-s $file;

        open my $in, '<', $file or next;
        my @lines = <$in>;
        close $in;

        splice @lines, 60 if @lines > 60;

        Test::More->builder->no_ending(1);
        Test::More::fail("$name - valgrind report in $file");
        Test::More::diag(join '', @lines);
    }
}


# ---------------------------------------------------------------------------
# The block loop.

sub preprocess_block ($) {
    my $block = shift;

    for my $hdl (@BlockPreprocessors) {
        $hdl->($block);
    }

    $block->set_value("name", $0 . " " . $block->name);
}


sub run_tests () {
    $Active = 1;
    $NginxVersion = get_nginx_version();

    if (!defined $ENV{TEST_NGINX_SERVER_PORT}) {
        $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort;
    }

    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks if !$NoShuffle;

    for my $block (@blocks) {
        preprocess_block($block);
        run_test($block);
        $PrevBlock = $block;
    }

    # the last block's nginx (each earlier one was stopped and checked when
    # the following block started its own)
    if (!$NoNginxManager && ($UseValgrind || !$ENV{TEST_NGINX_NO_CLEAN})) {
        stop_nginx();
    }

    cleanup();
}


sub parse_skip_specs ($) {
    my $block = shift;

    my $name = $block->name;
    my ($tests_to_skip, $should_skip, $skip_reason);

    if (defined(my $spec = $block->skip_eval)) {
        if ($spec =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            $tests_to_skip = $1;
            $skip_reason = "skip_eval";
            my $code = $2;
            $should_skip = eval $code;
            if ($@) {
                bail_out("$name - skip_eval - failed to eval the Perl code "
                         . "\"$code\": $@");
            }
        }
    }

    if (defined(my $spec = $block->skip_nginx)) {
        if ($spec =~ m{^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)
                       (?:\s*:\s*(.*))?\s*$}x)
        {
            $tests_to_skip = $1;
            my ($op, $ver) = ($2, get_canon_version($3, $4, $5));
            $skip_reason = $6 || "nginx version $op $3.$4.$5";
            if ((!defined $NginxVersion && $op =~ /^</)
                || (defined $NginxVersion && eval "$NginxVersion $op $ver"))
            {
                $should_skip = 1;
            }

        } else {
            bail_out("$name - Invalid --- skip_nginx spec: $spec");
        }
    }

    if (defined(my $spec = $block->skip_openssl)) {
        if ($spec =~ m{^\s*(\d+)\s*:\s*([<>]=?)\s*(\d+)\.(\d+)\.(\d+)([a-z])?
                       (?:\s*:\s*(.*))?\s*$}x)
        {
            $tests_to_skip = $1;
            my $op = $2;
            my $ver = get_canon_version_for_openssl($3, $4, $5, $6);
            $skip_reason = $7 || (defined $OpenSSLVersion
                                  ? "OpenSSL version $op $3.$4.$5"
                                    . ($6 // '')
                                  : "Not built with OpenSSL");
            if (!defined $OpenSSLVersion
                || eval "$OpenSSLVersion $op $ver")
            {
                $should_skip = 1;
            }

        } else {
            bail_out("$name - Invalid --- skip_openssl spec: $spec");
        }
    }

    return ($tests_to_skip, $should_skip, $skip_reason // "various reasons");
}


sub check_unsupported_sections ($) {
    my $block = shift;

    for my $sec (qw(tcp_listen udp_listen stap reload_fails http3
                    skip_nginx2 skip_slave))
    {
        if (defined $block->$sec) {
            bail_out($block->name . " - --- $sec is not supported by the "
                     . "llmgw runner (t/lib); install the CPAN Test::Nginx");
        }
    }
}


sub run_test ($) {
    my $block = shift;

    return if defined $block->SKIP;

    my $name = $block->name;

    check_unsupported_sections($block);

    my $rand_ports = {};
    $RandPorts = $rand_ports;
    my $config = expand_env_in_text($block->config, $name, $rand_ports);

    local $LogLevel = $LogLevel;
    if ($block->log_level) {
        $LogLevel = $block->log_level;
    }

    local $UseValgrind = $UseValgrind;
    my $must_die = $block->must_die;
    if (defined $must_die) {
        undef $UseValgrind;
    }

    my $dry_run = 0;

    if (use_http2($block) && (my $why = http2_unsupported())) {
        # every check of the block is reported as skipped, with the same
        # count as when it runs
        $dry_run = "HTTP/2 being unsupported ($why)";
    }

    my ($tests_to_skip, $should_skip, $skip_reason) = parse_skip_specs($block);

    my ($should_todo, $todo_reason);
    if (defined(my $todo = $block->todo)) {
        if ($todo =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            $should_todo = 1;
            $tests_to_skip = $1;
            $todo_reason = $2;

        } else {
            bail_out("$name - Invalid --- todo spec: $todo");
        }
    }

    my $should_restart = 1;

    if (!defined $config) {
        if (!$NoNginxManager && !defined $PrevConfig) {
            bail_out("$name - No '--- config' section specified and could "
                     . "not get previous one. Use TEST_NGINX_NO_NGINX_MANAGER"
                     . " ?");
        }
        $should_restart = 0;
        $NginxBlock = $block if $NginxBlock;

    } elsif ($NoNginxManager) {
        Test::More::diag("NO_NGINX_MANAGER activated: config for $name "
                         . "ignored");
        $should_restart = 0;

    } elsif (!$ForceRestartOnTest && defined $PrevConfig
             && $config eq $PrevConfig && read_pid_file())
    {
        $should_restart = 0;
        $NginxBlock = $block if $NginxBlock;
    }

    if ($should_restart && !$should_skip && !$dry_run) {
        $PrevConfig = $config;

        # the previous nginx: stopped and its exit checked, under the name
        # of the block that used it last
        stop_nginx();

        setup_server_root();
        write_user_files($block, $rand_ports);
        write_config_file($block, $config, $rand_ports);

        if (defined $must_die) {
            $ErrLogFilePos = 0;

            for my $i (0 .. $RepeatEach - 1) {
                my $status = start_nginx($name, $must_die);
                my $code = $status >> 8;

                if ($status == -1 || $code == 127) {
                    Test::More::fail("$name - failed to execute the nginx "
                                     . "command line");

                } elsif ($status & 128) {
                    Test::More::fail("$name - nginx core dumped");

                } elsif ($must_die =~ /^\s*\d+\s*$/) {
                    Test::More::is($must_die, $code,
                                   "$name - die with the expected exit code");

                } else {
                    Test::More::isnt($status, 0, "$name - die as expected");
                }

                $CheckErrorLog->($block, undef, $dry_run, $i, 0);

                if ($status == 0) {
                    warn "WARNING: $name - nginx must die but it does not; "
                         . "killing it (req $i)\n";
                    for (1 .. 15) {
                        last if -f $PidFile;
                        sleep $TestNginxSleep;
                    }
                    my $p = read_pid_file();
                    kill_process($p, 1, $name) if $p;
                }
            }

            return;
        }

        start_nginx($name, undef);
        $NginxBlock = $block;
        sleep $TestNginxSleep;
    }

    if ($block->init) {
        eval $block->init;
        if ($@) {
            bail_out("$name - init failed: $@");
        }
    }

    $ErrLogFilePos = 0;

    for my $i (1 .. $RepeatEach) {
        if ($i > 1 && !$should_skip && !$dry_run) {
            write_user_files($block, $rand_ports);
        }

        if ($should_skip && defined $tests_to_skip) {
            SKIP: {
                Test::More::skip("$name - $skip_reason", $tests_to_skip);
            }

        } elsif ($should_todo) {
            TODO: {
                Test::More::todo_skip("$name - $todo_reason",
                                      $tests_to_skip);
            }

        } else {
            $RunTestHelper->($block, $dry_run, $i - 1);
        }
    }

    if (my $total_errlog = $ENV{TEST_NGINX_ERROR_LOG}) {
        if (-s $ErrLogFile) {
            open my $out, '>>', $total_errlog
                or bail_out("Failed to append to $total_errlog: $!\n");
            print $out "\n=== $0 $name\n";
            close $out;
            system("cat '$ErrLogFile' >> '$total_errlog'") == 0
                or bail_out("Failed to append $ErrLogFile to "
                            . "$total_errlog\n");
        }
    }
}


END {
    if ($Active && !$InSubprocess) {
        local $?;

        cleanup();

        if ($UseValgrind || !$ENV{TEST_NGINX_NO_CLEAN}) {
            my $pid = read_pid_file();
            if ($pid && is_running($pid)) {
                kill_process($pid, 1, "END");

            } elsif (defined $PidFile && -f $PidFile) {
                unlink $PidFile;
            }
        }

        if ($Randomize && $ServRoot =~ m{/t/servroot_\d+$}) {
            remove_tree($ServRoot);
        }
    }
}


1;
