package LLMGW::Test;

# Copyright (C) llmgw authors
#
# Helpers for the llmgw suites: a key set made by tools/llmgw-keygen and
# short-lived tokens minted by tools/llmgw-token (or, for cross-checks, by
# libjwt through tools/jwt-libjwt.c).  Core Perl only, so the suites run
# under plain `prove` as well as under the CPAN Test::Nginx.
#
#     use lib 't/lib';
#     use LLMGW::Test;      # creates the keys, sets $TEST_NGINX_LLMGW_KEYS
#
#     --- more_headers eval
#     "Authorization: Bearer " . llmgw_token(scope => 'text', aud => 'llmgw')
#
# `use LLMGW::Test ();` imports nothing and creates nothing.  Every token
# expires within minutes (exp now + 300 unless told otherwise): none is
# ever committed.

use strict;
use warnings;

use Exporter ();
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Spec;
use File::Temp ();
use IO::Handle ();
use JSON::PP ();
use MIME::Base64 qw(decode_base64url);
use POSIX ();

our $VERSION = '1.0';
our @ISA = ('Exporter');

our @EXPORT = qw(llmgw_keys_dir llmgw_token llmgw_libjwt_token);
our @EXPORT_OK = qw(llmgw_root llmgw_run llmgw_jwt_decode
    llmgw_dpop llmgw_dpop_jkt llmgw_dpop_nonce
                    llmgw_late_headers llmgw_quiet_must_die $PYTHON);
our %EXPORT_TAGS = (all => [@EXPORT, @EXPORT_OK]);

# Debian's interpreter: it has python3-jwt and python3-cryptography
our $PYTHON = '/usr/bin/python3';

my $ROOT;

BEGIN {
    # t/lib/LLMGW/Test.pm -> the project root, three levels up
    my $here = dirname(abs_path(__FILE__));
    $ROOT = abs_path(File::Spec->catdir($here, File::Spec->updir,
                                        File::Spec->updir,
                                        File::Spec->updir));
}

my %ready;      # key directories made in this process

# the kid llmgw-keygen gives each key (RSA: the RS256 one)
my %KID = (rsa => 'rsa1', rsa2 => 'rsa2', ec256 => 'ec1',
           ec384 => 'ec384', ec521 => 'ec521', ed25519 => 'ed1',
           rsa1024 => 'rsa1024');

my %LIBJWT_ALG = (rsa => 'RS256', rsa2 => 'RS256', rsa1024 => 'RS256',
                  ec256 => 'ES256', ec384 => 'ES384', ec521 => 'ES512');

my $JSON = JSON::PP->new->canonical->allow_nonref;


sub import {
    my ($class, @args) = @_;

    llmgw_keys_dir();

    $class->export_to_level(1, $class, @args);

    # Test::Base (under both Test::Nginx runners) evaluates "--- xxx eval"
    # sections in its filter package, not in the test script's
    $class->export('Test::Base::Filter', @args);
}


sub llmgw_root {
    return $ROOT;
}


# Runs a command (a list, no shell) with stdin from /dev/null.  Returns
# (wait status, stdout, stderr).
sub llmgw_run {
    my (@cmd) = @_;

    my $out = File::Temp->new(TMPDIR => 1);
    my $err = File::Temp->new(TMPDIR => 1);

    STDOUT->flush;
    STDERR->flush;

    my $pid = fork;
    die "llmgw_run: fork: $!\n" unless defined $pid;

    if ($pid == 0) {
        open STDIN, '<', '/dev/null' or POSIX::_exit(127);
        open STDOUT, '>&', $out or POSIX::_exit(127);
        open STDERR, '>&', $err or POSIX::_exit(127);
        { no warnings 'exec'; exec { $cmd[0] } @cmd; }
        print STDERR "cannot run $cmd[0]: $!\n";
        POSIX::_exit(127);
    }

    waitpid $pid, 0;
    my $status = $?;

    return ($status, _slurp($out->filename), _slurp($err->filename));
}


sub _slurp {
    my ($path) = @_;

    open my $fh, '<:raw', $path or die "cannot read $path: $!\n";
    local $/;
    my $data = <$fh>;
    close $fh;

    return defined $data ? $data : '';
}


sub _status_text {
    my ($status) = @_;

    return "exit status " . ($status >> 8) if ($status & 127) == 0;
    return "signal " . ($status & 127);
}


# The key directory: $TEST_NGINX_LLMGW_KEYS, or t/servroot-keys under the
# project root.  Made (or completed) by llmgw-keygen on first use in each
# process; $TEST_NGINX_LLMGW_KEYS is set to its absolute path so nginx
# configurations in the suites can name the files.
sub llmgw_keys_dir {
    my $dir = $ENV{TEST_NGINX_LLMGW_KEYS};
    $dir = File::Spec->catdir($ROOT, 't', 'servroot-keys')
        unless defined $dir && $dir ne '';
    $dir = File::Spec->rel2abs($dir);

    unless ($ready{$dir}) {
        my ($status, $out, $err) = llmgw_run($PYTHON,
            File::Spec->catfile($ROOT, 'tools', 'llmgw-keygen'), '-q', $dir);

        die "llmgw-keygen $dir failed (" . _status_text($status) . "): "
            . $err if $status != 0;

        $ready{$dir} = 1;
    }

    $ENV{TEST_NGINX_LLMGW_KEYS} = $dir;

    return $dir;
}


sub _key_path {
    my ($name, $suffix) = @_;

    return $name if $name =~ m{/};
    return File::Spec->catfile(llmgw_keys_dir(), $name . $suffix);
}


sub _list {
    my ($v) = @_;

    return ref $v eq 'ARRAY' ? @$v : ($v);
}


# a JSON text from a Perl value; a scalar reference is JSON text already
sub _json {
    my ($v) = @_;

    return $$v if ref $v eq 'SCALAR';
    return $JSON->encode($v);
}


my %TOKEN_OPTS = map { $_ => 1 } qw(key alg kid no_kid iss sub aud scope
    scp amr jti claims headers exp nbf iat now typ tamper none
    hs256_pubkey raw_header raw_payload pad pad_to);


# llmgw_token(%opts): a token from tools/llmgw-token.
#
#   key => 'rsa'            DIR/rsa.key (a name with a '/' is a path);
#                           the default unless none or hs256_pubkey
#   alg => 'PS256'          default from the key (RSA RS256, ec256 ES256..)
#   kid => 'k'              kid => undef or no_kid => 1: no kid; absent:
#                           the key's kid in DIR/jwks*.json
#   iss, sub, jti, scope, typ  strings
#   aud => 'a' or ['a','b'] a string, or an array claim
#   scp, amr => 'a,b' or ['a','b']   array claims
#   claims  => { name => value }    any claims (\'raw json' for JSON text)
#   headers => { name => value }    any header parameters (same)
#   exp, nbf, iat => seconds from now; exp => undef / iat => undef: absent
#   now => epoch            base of the relative times (reproducible tokens)
#   none => 1               --alg none
#   hs256_pubkey => 'rsa'   HS256 keyed with DIR/rsa.pub
#   tamper => 'payload' | 'signature'
#   raw_header, raw_payload => 'exact text'
#   pad => N, pad_to => N
#
# Dies with llmgw-token's message when it fails.
sub llmgw_token {
    my (%o) = @_;

    for my $k (sort keys %o) {
        die "llmgw_token: unknown option \"$k\"\n" unless $TOKEN_OPTS{$k};
    }

    my @args;

    if ($o{none}) {
        push @args, '--alg', 'none';

    } elsif (defined $o{hs256_pubkey}) {
        push @args, '--hs256-with-pubkey', _key_path($o{hs256_pubkey}, '.pub');

    } else {
        push @args, '--key', _key_path(defined $o{key} ? $o{key} : 'rsa',
                                       '.key');
    }

    push @args, '--alg', $o{alg} if defined $o{alg};

    if ($o{no_kid} || (exists $o{kid} && !defined $o{kid})) {
        push @args, '--no-kid';

    } elsif (defined $o{kid}) {
        push @args, '--kid', $o{kid};
    }

    for my $k (qw(iss sub scope jti typ tamper now)) {
        push @args, "--$k", $o{$k} if defined $o{$k};
    }

    push @args, map { ('--aud', $_) } _list($o{aud}) if defined $o{aud};

    for my $k (qw(scp amr)) {
        push @args, "--$k", join(',', _list($o{$k})) if defined $o{$k};
    }

    for my $k (qw(exp iat)) {
        next unless exists $o{$k};
        push @args, defined $o{$k} ? ("--$k", $o{$k}) : ("--no-$k");
    }

    push @args, '--nbf', $o{nbf} if defined $o{nbf};

    for my $name (sort keys %{ $o{claims} || {} }) {
        push @args, '--claim', "$name=" . _json($o{claims}{$name});
    }

    for my $name (sort keys %{ $o{headers} || {} }) {
        push @args, '--header', "$name=" . _json($o{headers}{$name});
    }

    push @args, '--raw-header', $o{raw_header} if defined $o{raw_header};
    push @args, '--raw-payload', $o{raw_payload} if defined $o{raw_payload};
    push @args, '--pad', $o{pad} if defined $o{pad};
    push @args, '--pad-to', $o{pad_to} if defined $o{pad_to};

    my ($status, $out, $err) = llmgw_run($PYTHON,
        File::Spec->catfile($ROOT, 'tools', 'llmgw-token'), @args);

    die "llmgw_token: " . ($err ne '' ? $err : _status_text($status) . "\n")
        if $status != 0;

    $out =~ s/\n\z//;

    return $out;
}


my %DPOP_OPTS = map { $_ => 1 } qw(key alg htm htu token no_ath jti iat now
    nonce typ claims private_jwk jwk_of hs256);


# llmgw_dpop(%opts): a DPoP proof from tools/llmgw-dpop.
#
#   key => 'ec256'          the client's key (DIR/NAME.key), the default
#   htm => 'POST', htu => 'http://localhost/t'   (GET, required)
#   token => JWT            ath from it (no_ath => 1: none)
#   jti, nonce, typ, alg    strings; iat => seconds from now
#   claims => { name => value }
#   private_jwk => 1, jwk_of => 'ed25519', hs256 => 1   hostile proofs
sub llmgw_dpop {
    my (%o) = @_;

    for my $k (sort keys %o) {
        die "llmgw_dpop: unknown option \"$k\"\n" unless $DPOP_OPTS{$k};
    }

    my @args = ('--key', _key_path($o{key} // 'ec256', '.key'));

    for my $k (qw(alg htm htu token jti iat now nonce typ)) {
        push @args, "--$k", $o{$k} if defined $o{$k};
    }

    push @args, '--jwk-of', _key_path($o{jwk_of}, '.key') if $o{jwk_of};

    for my $k (qw(no_ath private_jwk hs256)) {
        (my $opt = $k) =~ s/_/-/g;
        push @args, "--$opt" if $o{$k};
    }

    for my $name (sort keys %{ $o{claims} || {} }) {
        push @args, '--claim', "$name=" . _json($o{claims}{$name});
    }

    return _dpop_tool(@args);
}


# the RFC 7638 thumbprint of DIR/NAME.key: the cnf.jkt of a bound token
sub llmgw_dpop_jkt {
    my ($key) = @_;

    return _dpop_tool('--key', _key_path($key // 'ec256', '.key'), '--jkt');
}


# the nonce llmgw gives now (or at epoch \$now) under
# llmgw_dpop_nonce_secret file=PATH
sub llmgw_dpop_nonce {
    my ($file, $lifetime, $now) = @_;

    return _dpop_tool('--nonce-secret-file', $file,
                      '--nonce-lifetime', $lifetime // 300,
                      defined $now ? ('--now', $now) : ());
}


sub _dpop_tool {
    my ($status, $out, $err) = llmgw_run($PYTHON,
        File::Spec->catfile($ROOT, 'tools', 'llmgw-dpop'), @_);

    die "llmgw-dpop: " . ($err ne '' ? $err : _status_text($status) . "\n")
        if $status != 0;

    $out =~ s/\n\z//;

    return $out;
}


my %LIBJWT_OPTS = map { $_ => 1 } qw(key alg kid no_kid iss sub aud scope
    scp amr jti claims headers exp nbf iat now typ);


# tools/jwt-libjwt, compiled into the key directory when missing or older
# than its source
sub _libjwt_tool {
    my $dir = llmgw_keys_dir();
    my $src = File::Spec->catfile($ROOT, 'tools', 'jwt-libjwt.c');
    my $bin = File::Spec->catfile($dir, 'jwt-libjwt');

    return $bin if -x $bin && (stat $bin)[9] >= (stat $src)[9];

    my $tmp = "$bin.tmp.$$";
    my $cc = defined $ENV{CC} && $ENV{CC} ne '' ? $ENV{CC} : 'cc';

    my ($status, $out, $err) = llmgw_run($cc, '-O2', '-Wall', '-Wextra',
        '-Werror', '-o', $tmp, $src, '-ljwt');

    if ($status != 0) {
        unlink $tmp;
        die "llmgw_libjwt_token: building $src failed ("
            . _status_text($status) . "; libjwt-dev installed?):\n$out$err";
    }

    rename $tmp, $bin or die "llmgw_libjwt_token: rename $tmp: $!\n";

    return $bin;
}


# llmgw_libjwt_token(%opts): the same token through libjwt 1.10.2.  Takes
# key, alg (RS* or ES*; default from the key), kid / no_kid (default the
# key's kid in llmgw-keygen's JWKS), iss, sub, aud, scope, scp, amr, jti,
# claims, headers, exp, nbf, iat, now as llmgw_token does.  libjwt always
# writes "typ":"JWT": any other typ dies.
sub llmgw_libjwt_token {
    my (%o) = @_;

    for my $k (sort keys %o) {
        die "llmgw_libjwt_token: unknown option \"$k\"\n"
            unless $LIBJWT_OPTS{$k};
    }

    my $key = defined $o{key} ? $o{key} : 'rsa';
    my $name = $key =~ m{([^/]+?)(?:\.key)?\z} ? $1 : $key;

    my $alg = $o{alg};
    $alg = $LIBJWT_ALG{$name} unless defined $alg;
    die "llmgw_libjwt_token: give alg for key $key\n" unless defined $alg;

    my $kid;
    unless ($o{no_kid} || (exists $o{kid} && !defined $o{kid})) {
        $kid = defined $o{kid} ? $o{kid} : $KID{$name};
    }

    my $now = defined $o{now} ? $o{now} : time;
    my %c;

    for my $k (qw(iss sub jti scope)) {
        $c{$k} = $o{$k} if defined $o{$k};
    }

    if (defined $o{aud}) {
        my @aud = _list($o{aud});
        $c{aud} = ref $o{aud} eq 'ARRAY' ? \@aud : $aud[0];
    }

    for my $k (qw(scp amr)) {
        next unless defined $o{$k};
        $c{$k} = ref $o{$k} eq 'ARRAY'
                 ? [@{ $o{$k} }]
                 : [grep { $_ ne '' } map { s/^\s+|\s+\z//gr }
                    split /,/, $o{$k}];
    }

    $c{iat} = $now + ($o{iat} || 0) unless exists $o{iat} && !defined $o{iat};
    $c{nbf} = $now + $o{nbf} if defined $o{nbf};
    $c{exp} = $now + (defined $o{exp} ? $o{exp} : 300)
        unless exists $o{exp} && !defined $o{exp};

    for my $name (keys %{ $o{claims} || {} }) {
        my $v = $o{claims}{$name};
        $c{$name} = ref $v eq 'SCALAR' ? $JSON->decode($$v) : $v;
    }

    my %h;
    for my $name (keys %{ $o{headers} || {} }) {
        my $v = $o{headers}{$name};
        $h{$name} = ref $v eq 'SCALAR' ? $JSON->decode($$v) : $v;
    }
    $h{typ} = $o{typ} if defined $o{typ};

    my @args = ('--key', _key_path($key, '.key'), '--alg', $alg,
                '--claims', $JSON->encode(\%c));
    push @args, '--kid', $kid if defined $kid;
    push @args, '--header', $JSON->encode(\%h) if %h;

    my ($status, $out, $err) = llmgw_run(_libjwt_tool(), @args);

    die "llmgw_libjwt_token: "
        . ($err ne '' ? $err : _status_text($status) . "\n")
        if $status != 0;

    $out =~ s/\n\z//;

    return $out;
}


# llmgw_late_headers($block), from a block preprocessor: a block's
# "--- more_headers_late" is Perl code, as in "--- more_headers eval", but
# evaluated when the block runs rather than when the file is read.  Both
# runners evaluate the eval sections of every block before the first block
# runs, so a late block's token is as old as the blocks before it took
# (about 2 s each under the CPAN runner here, which waits for every nginx
# to exit) plus its own nginx's start.  A block's "--- init" runs once per
# block in both, after its nginx has started and just before its first
# request: the code runs there, so a token's exp, nbf and iat count from
# then, whatever the runner's speed.  All the repeats of a block send the
# same headers.
my $LateBlock;

sub llmgw_late_headers {
    my ($block) = @_;

    return unless defined $block->more_headers_late;

    die $block->name . ": both --- more_headers and --- more_headers_late\n"
        if defined $block->more_headers;

    # the runners eval --- init in their own package, without the block:
    # the block that runs next is the one preprocessed last
    $LateBlock = $block;
    $block->set_value('init', 'LLMGW::Test::_late_init();'
                              . ($block->init // ''));
}


sub _late_init {
    my $block = $LateBlock;
    my $code = $block->more_headers_late;

    my $v = eval "package main; no strict; $code";
    die $block->name . ": --- more_headers_late: $@" if $@;

    $block->set_value('more_headers', $v);
}


# llmgw_quiet_must_die($block), from a block preprocessor, and
# llmgw_quiet_must_die(undef) after run_tests(): nginx prints a --- must_die
# block's [emerg] lines to stderr as well as to the error log the block
# checks, and neither runner keeps that stderr out of prove's output.  While
# such a block runs, stderr goes to <server root>-logs/<suite>.stderr (kept
# with the server root by t/run-tests.sh when something fails); any other
# block, or undef, gets it back.  Test::More reports on its own copy of
# stderr, taken when it was loaded, so no diagnostic is lost.
my $SavedStderr;

sub llmgw_quiet_must_die {
    my ($block) = @_;

    if (defined $block && defined $block->must_die) {
        return if defined $SavedStderr;

        my $root = $ENV{TEST_NGINX_SERVROOT};
        $root = File::Spec->catdir($ROOT, 't', 'servroot')
            unless defined $root && $root ne '';

        my $dir = "$root-logs";
        mkdir $dir unless -d $dir;

        my $suite = (File::Spec->splitpath($0))[2];
        $suite =~ s/\.t\z//;

        open $SavedStderr, '>&', \*STDERR or die "dup stderr: $!\n";
        STDERR->flush;
        open STDERR, '>>', "$dir/$suite.stderr"
            or die "$dir/$suite.stderr: $!\n";
        STDERR->autoflush(1);

        return;
    }

    return unless defined $SavedStderr;

    STDERR->flush;
    open STDERR, '>&', $SavedStderr or die "restore stderr: $!\n";
    close $SavedStderr;
    undef $SavedStderr;
}


# (header, claims) of a compact token, unverified; undef for a part that
# is not a JSON object
sub llmgw_jwt_decode {
    my ($token) = @_;

    my @part = split /\./, $token, -1;
    my @out;

    for my $p (@part[0, 1]) {
        my $v = eval { JSON::PP->new->decode(decode_base64url($p // '')) };
        push @out, ref $v eq 'HASH' ? $v : undef;
    }

    return @out;
}


1;
