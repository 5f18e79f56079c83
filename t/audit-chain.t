# llmgw_audit_chain: two workers write chained lines to a plain and a
# buffered file, a USR1 reopen in the middle, then a reload whose new
# workers announce the old chains' heads; tools/llmgw-audit-verify
# passes the intact files and catches, at the right line, a deleted, an
# inserted, a moved and an edited line and a file cut mid-line; a wrong
# key fails; nginx -t refuses a missing key file, a short key and a zone
# too small.  Plain Test::More: files, signals, a tool's output.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use File::Temp qw(tempdir);
use LLMGW::Test qw(:all);
use LLMGW::Nginx qw(:DEFAULT slurp);

plan skip_all => 'TEST_NGINX_LOAD_MODULES is not set (t/run-tests.sh sets it)'
    unless $ENV{TEST_NGINX_LOAD_MODULES};

my $verify = '/usr/bin/python3 tools/llmgw-audit-verify';
my $keys = llmgw_keys_dir();
my $dir = nginx_prefix();
my $port = free_port();
my $log = "$dir/logs/audit.log";
my $buf = "$dir/logs/buffered.log";
my $json = JSON::PP->new->utf8;

write_file("$dir/chain.key", "audit-chain-test-key-0123456789-abcdefghij\n");
write_file("$dir/other.key", "another-chain-key-0123456789-abcdefghijkl\n");
write_file("$dir/short.key", "too-short-a-key\n");
write_file("$dir/html/ok.txt", "ok\n");

sub conf {
    my ($chain) = @_;

    nginx_conf($dir, <<"_EOC_", workers => 2);
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;

$chain

    server {
        listen 127.0.0.1:$port;

        location / {
            llmgw_audit $log;
            llmgw_audit $buf buffer=4k flush=200ms;
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            root $dir/html;
            try_files /ok.txt =404;
        }
    }
_EOC_
}


# nginx -t refusals

my @refused = (
    [ "llmgw_audit_chain key=$dir/none.key; llmgw_audit_zone chain:64k;",
      qr/none\.key/, 'a missing key file' ],
    [ "llmgw_audit_chain key=$dir/short.key; llmgw_audit_zone chain:64k;",
      qr/shorter than 32 bytes/, 'a short key' ],
    [ "llmgw_audit_chain key=$dir/chain.key; llmgw_audit_zone chain:4k;",
      qr/zone "chain:4k" is too small/, 'a zone too small' ],
    [ "llmgw_audit_chain key=$dir/chain.key;",
      qr/"llmgw_audit_chain" requires "llmgw_audit_zone"/, 'no zone' ],
    [ "llmgw_audit_chain key=$dir/chain.key checkpoint=0;"
      . " llmgw_audit_zone chain:64k;",
      qr/invalid checkpoint time "0"/, 'checkpoint=0' ],
);

for my $r (@refused) {
    conf($r->[0]);
    my ($ok, $out) = nginx_check($dir);
    ok(!$ok, "nginx -t refuses $r->[2]");
    like($out, $r->[1], "$r->[2]: the reason");
    unlike($out, qr/audit-chain-test-key|too-short-a-key/,
           "$r->[2]: no key in the message");
}

conf("llmgw_audit_chain key=$dir/chain.key checkpoint=1s;\n"
     . "    llmgw_audit_zone chain:64k;");

my ($ok, $out) = nginx_check($dir);
ok($ok, 'nginx -t accepts the chain') or diag($out);

# two workers, a reopen in the middle

my $pid = nginx_start($dir, $port) or BAIL_OUT('nginx did not start');
my $http = HTTP::Tiny->new(timeout => 10);
my $token = llmgw_token(sub => 'alice', scope => 'text');
my $sent = 0;

for my $i (1 .. 80) {
    my $res = $http->get("http://127.0.0.1:$port/r?n=$i",
                         { headers => { Authorization => "Bearer $token" } });
    $sent++ if $res->{status} == 200;

    if ($i == 40) {
        select(undef, undef, undef, 0.3);
        rename $log, "$log.1" or die $!;
        rename $buf, "$buf.1" or die $!;
        kill 'USR1', $pid;
        select(undef, undef, undef, 0.5);
    }
}

# a reload: new workers, new chains, the old heads announced

kill 'HUP', $pid;
select(undef, undef, undef, 1);

for my $i (81 .. 100) {
    my $res = $http->get("http://127.0.0.1:$port/r?n=$i",
                         { headers => { Authorization => "Bearer $token" } });
    $sent++ if $res->{status} == 200;
}

is($sent, 100, 'all requests answered');

select(undef, undef, undef, 1.5);    # a periodic checkpoint
nginx_stop($pid);

for my $f ($log, $buf) {
    my @r = map { $json->decode($_) } (lines("$f.1"), lines($f));
    my @req = grep { !defined $_->{type} } @r;
    my @cp = grep { ($_->{type} // '') eq 'checkpoint' } @r;
    my %chains = map { $_->{chain} => 1 } @r;

    my %old = map { $json->decode($_)->{chain} => 1 } lines("$f.1");

    is(scalar(@req), 100, "$f: a line per request");
    ok(@cp >= 8, "$f: checkpoints (" . scalar(@cp) . ')');
    ok(keys(%chains) >= 4, "$f: a chain per worker and start ("
                           . join(' ', sort keys %chains) . ')');
    ok((grep { !$old{$_->{chain}} && $_->{seq} == 1
               && grep { $old{$_->{chain}} && $_->{seq} > 0 }
                       @{$_->{heads}} } @cp),
       "$f: a new worker's first line announces the old chains");
    ok(!(grep { !defined $_->{seq} || $_->{prev} !~ /^[0-9a-f]{64}\z/ } @r),
       "$f: every line has seq and prev");
    ok((grep { $_->{seq} == 1 && $_->{prev} eq '0' x 64 } @r) >= 2,
       "$f: chains start at seq 1 with 64 zeros");

    my ($rc, $o) = run("$dir/chain.key", "$f.1", $f);
    is($rc, 0, "$f: intact, exit 0") or diag($o);
    like($o, qr/^OK: \d+ lines, \d+ chains intact$/m, "$f: OK printed");

    ($rc, $o) = run("$dir/other.key", "$f.1", $f);
    is($rc, 1, "$f: a wrong key fails") or diag($o);
}

# tampered copies of the old plain file, the new one after them

my @lines = lines("$log.1");
my @recs = map { $json->decode($_) } @lines;
my $tmp = tempdir('llmgw-chain-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $copy = "$tmp/audit.log.1";

# the next line of the same chain after index $i, or undef
sub next_of {
    my ($i) = @_;
    for my $j ($i + 1 .. $#recs) {
        return $j if $recs[$j]{chain} eq $recs[$i]{chain};
    }
    return undef;
}

# a request line from the middle with a later line in its chain
my ($mid) = grep { !defined $recs[$_]{type} && defined next_of($_) }
            int(@recs / 2) .. $#recs;
ok(defined $mid && $mid > 2, "a line to tamper with: " . ($mid // 'none'))
    or BAIL_OUT('no line to tamper with');
my $next = next_of($mid);

sub tampered {
    my ($name, $expect, @l) = @_;
    write_file($copy, join '', @l);
    my ($rc, $o) = run("$dir/chain.key", $copy, $log);
    is($rc, 1, "$name: exit 1") or diag($o);
    like($o, qr/^BROKEN: \Q$copy\E:$expect: /m, "$name: line $expect")
        or diag($o);
    return $o;
}

my @l = @lines;
splice @l, $mid, 1;
my $deleted = tampered('deleted', $next, @l);

@l = @lines;
splice @l, $mid, 0, $lines[1];
tampered('inserted', $mid + 1, @l);

@l = @lines;
@l[$mid, $next] = @l[$next, $mid];
tampered('swapped', $mid + 1, @l);

@l = @lines;
$l[$mid] =~ s/"sub":"alice"/"sub":"mallory"/ or die 'no sub';
tampered('edited', $mid + 1, @l);

@l = @lines[0 .. $mid];
$l[$mid] = substr($l[$mid], 0, int(length($l[$mid]) / 2));
tampered('cut mid-line', $mid + 1, @l);

# the last line of an exited worker's chain removed from the new file: a
# later checkpoint of another chain recorded it
{
    my @n = lines($log);
    my @nr = map { $json->decode($_) } @n;
    my ($cut, $by);

    LINE: for my $i (reverse 0 .. $#nr) {
        my $c = $nr[$i]{chain};
        next if grep { $nr[$_]{chain} eq $c } $i + 1 .. $#nr;

        for my $j ($i + 1 .. $#nr) {
            next unless ($nr[$j]{type} // '') eq 'checkpoint';
            if (grep { $_->{chain} eq $c && $_->{seq} == $nr[$i]{seq} }
                @{$nr[$j]{heads}})
            {
                ($cut, $by) = ($i, $j);
                last LINE;
            }
        }
    }

    ok(defined $cut, 'a chain end recorded by a later checkpoint')
        or diag(join '', @n);

    if (defined $cut) {
        splice @n, $cut, 1;
        write_file("$tmp/audit.log", join '', @n);
        my ($rc, $o) = run("$dir/chain.key", "$log.1", "$tmp/audit.log");
        is($rc, 1, 'a chain end cut: exit 1') or diag($o);
        my $at = "$tmp/audit.log:$by";
        like($o, qr/^BROKEN: .*: truncated: .*, the checkpoint at \Q$at\E /m,
             'a chain end cut: truncated, the checkpoint named') or diag($o);
    }
}

# --closed: the files of a stopped nginx end every chain with its closing
# checkpoint; cutting the last lines (closing checkpoints included) is
# found only with --closed
{
    my ($rc, $o) = run('--closed', "$dir/chain.key", "$log.1", $log);
    is($rc, 0, '--closed: the complete files pass') or diag($o);

    my @n = lines($log);
    my $last = $json->decode($n[-1]);
    is($last->{event}, 'close', 'the last line is a closing checkpoint');

    my @nr = map { $json->decode($_) } @n;
    my $keep = $#n;
    $keep-- while $keep > 0
                  && ($nr[$keep]{type} // '') eq 'checkpoint'
                  && ($nr[$keep]{event} // '') eq 'close';
    write_file("$tmp/audit.log", join '', @n[0 .. $keep]);

    ($rc, $o) = run("$dir/chain.key", "$log.1", "$tmp/audit.log");
    is($rc, 0, 'the closing checkpoints cut: not seen without --closed')
        or diag($o);
    ($rc, $o) = run('--closed', "$dir/chain.key", "$log.1",
                    "$tmp/audit.log");
    is($rc, 1, '--closed: the closing checkpoints cut: exit 1') or diag($o);
    like($o, qr/^BROKEN:\ .*:\ truncated:\ chain\ \S+\ ends\ at\ seq\ \d+
                \ without\ its\ closing\ checkpoint\ \(--closed\)$/mx,
         '--closed: truncated, the chain named') or diag($o);
}

# the whole old file dropped: the new one starts mid-chain
{
    my ($rc, $o) = run("$dir/chain.key", $log);
    is($rc, 1, 'the old file missing: exit 1') or diag($o);
}

# usage and read errors
{
    my ($rc) = run("$dir/chain.key");
    is($rc, 2, 'no file: exit 2');
    ($rc) = run("$dir/chain.key", "$tmp/none.log");
    is($rc, 2, 'a missing file: exit 2');
    ($rc) = run("$dir/short.key", $log);
    is($rc, 2, 'a short key: exit 2');
}

diag("a deleted line: $deleted");

my @alerts = grep { /\[(alert|emerg|crit)\]/ }
             split /\n/, slurp("$dir/logs/error.log");
is_deeply(\@alerts, [], 'no alert');

done_testing();


sub run {
    my @args = @_;
    my $o = qx{$verify @args 2>&1};
    return ($? >> 8, $o);
}

sub lines {
    my ($file) = @_;
    open my $fh, '<:raw', $file or return ();
    my @l = <$fh>;
    close $fh;
    return @l;
}

sub write_file {
    my ($file, $data) = @_;
    open my $fh, '>:raw', $file or die "$file: $!";
    print $fh $data;
    close $fh;
    chmod 0644, $file;
}
