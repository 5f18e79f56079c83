# examples/log-shipping: what can be checked without Fluent Bit, Vector
# or S3 (none is in Debian 12, and there is no network here).  The Vector
# TOML parses (Python's tomllib) and the Fluent Bit YAML parses (PyYAML);
# both tail the audit file examples/nginx.conf writes, pass lines through
# untouched (no transform, parser or filter; raw text out), gzip, and key
# the objects audit/year=/month=/day=/host=.  Then objects named as each
# shipper names them (a chained audit file cut into gzip objects, Fluent
# Bit's $INDEX past 9, a day boundary) pass examples/log-shipping/
# verify-shipped and the verifier after gunzip + concatenation in order;
# a lexical sort, a missing object, and a shipper that re-serializes
# the JSON all fail it.  Plain Test::More.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use Digest::SHA qw(hmac_sha256_hex);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use IO::Compress::Gzip qw(gzip $GzipError);
use JSON::PP;
use LLMGW::Test qw(:all);

plan skip_all => "$PYTHON is missing" unless -x $PYTHON;

my $ROOT = llmgw_root();
my $EX = "$ROOT/examples/log-shipping";
my $SHIPPED = "$EX/verify-shipped";
my $tmp = tempdir('llmgw-ship-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $json = JSON::PP->new->utf8->canonical;


sub slurp {
    my ($path) = @_;
    open my $fh, '<:raw', $path or die "$path: $!";
    local $/;
    return scalar <$fh>;
}


sub write_raw {
    my ($path, $bytes) = @_;
    open my $fh, '>:raw', $path or die "$path: $!";
    print $fh $bytes;
    close $fh;
}


sub run {
    my ($status, $out, $err) = llmgw_run(@_);
    return ($status >> 8, $out . $err);
}


# a configuration file as JSON, read by Debian's Python
sub parsed {
    my ($code, $file) = @_;
    my ($rc, $out) = run($PYTHON, '-c', $code, $file);
    is($rc, 0, "$file parses") or diag($out);
    return eval { $json->decode($out) } // {};
}


# ---------------------------------------------------------------------
# the configurations

my ($audit) = slurp("$ROOT/examples/nginx.conf")
              =~ /^\s*llmgw_audit\s+([^\s;]+)/m;
is($audit, 'logs/audit.log', 'examples/nginx.conf: the audit file');
my $path = "\${LLMGW_NGINX_PREFIX}/$audit";

my $v = parsed('import json, sys, tomllib; '
               . 'print(json.dumps(tomllib.load(open(sys.argv[1], "rb"))))',
               "$EX/vector.toml");

my $src = $v->{sources}{llmgw_audit} // {};
my $sink = $v->{sinks}{llmgw_audit_s3} // {};

is($src->{type}, 'file', 'vector: a file source');
is_deeply($src->{include}, [ $path ], 'vector: tails the audit file');
ok(!exists $v->{transforms}, 'vector: no transform');
is(scalar keys %{ $v->{sinks} }, 1, 'vector: one sink');
is($sink->{type}, 'aws_s3', 'vector: an aws_s3 sink');
is_deeply($sink->{inputs}, [ 'llmgw_audit' ],
          'vector: the sink reads the source directly');
is($sink->{encoding}{codec}, 'text', 'vector: the line as it was read');
is($sink->{framing}{method}, 'newline_delimited', 'vector: a newline');
is($sink->{compression}, 'gzip', 'vector: gzip');
like($sink->{key_prefix}, qr{^audit/year=%Y/month=%m/day=%d/},
     'vector: keys by date');
is($sink->{timezone}, 'UTC', 'vector: dates in UTC');
is($sink->{endpoint}, '${LLMGW_S3_ENDPOINT}', 'vector: endpoint configurable');
is($sink->{acknowledgements}{enabled}, 1,
   'vector: offsets move once S3 has the object');
ok($src->{max_line_bytes} >= 1048576, 'vector: long lines kept');

my $f = parsed('import json, sys, yaml; '
               . 'print(json.dumps(yaml.safe_load(open(sys.argv[1]))))',
               "$EX/fluent-bit.yaml");

my @in = @{ $f->{pipeline}{inputs} // [] };
my @out = @{ $f->{pipeline}{outputs} // [] };

is(scalar @in, 1, 'fluent bit: one input');
is(scalar @out, 1, 'fluent bit: one output');
ok(!exists $f->{pipeline}{filters}, 'fluent bit: no filter');
is($in[0]{name}, 'tail', 'fluent bit: tail');
is($in[0]{path}, $path, 'fluent bit: tails the audit file');
ok(!exists $in[0]{parser}, 'fluent bit: no parser');
is($out[0]{name}, 's3', 'fluent bit: the s3 output');
is($out[0]{match}, $in[0]{tag}, 'fluent bit: the output takes the input');
is($out[0]{log_key}, $in[0]{key},
   'fluent bit: log_key, the raw line, not a JSON record around it');
is($out[0]{compression}, 'gzip', 'fluent bit: gzip');
like($out[0]{s3_key_format},
     qr{^/audit/year=%Y/month=%m/day=%d/host=\$\{LLMGW_HOST\}/.*\$INDEX},
     'fluent bit: keys by date, then ordered by $INDEX');
is($out[0]{endpoint}, '${LLMGW_S3_ENDPOINT}',
   'fluent bit: endpoint configurable');

like(slurp("$EX/logrotate.conf"), qr{^/usr/share/nginx/\Q$audit\E \{}m,
     'logrotate: the same file under Debian nginx\'s prefix');
unlike(slurp("$EX/logrotate.conf"), qr/^\s*copytruncate/m,
       'logrotate: no copytruncate');


# ---------------------------------------------------------------------
# shipped objects and the verifier

my $KEY = "$tmp/chain.key";
write_raw($KEY, "shipping-test-chain-key-0123456789abcdef\n");
my $key = 'shipping-test-chain-key-0123456789abcdef';

# a chained audit file: two workers' chains, checkpoints, hostile values
my %head;     # chain => [seq, mac]
my @lines;

sub chained {
    my ($chain, $body) = @_;
    my $h = $head{$chain} //= [0, '0' x 64];
    my $line = $body . ',"chain":"' . $chain . '","seq":' . ($h->[0] + 1)
               . ',"prev":"' . $h->[1] . "\"}\n";
    $head{$chain} = [$h->[0] + 1, hmac_sha256_hex($line, $key)];
    push @lines, $line;
}

sub checkpoint {
    my ($chain) = @_;
    my $heads = join ',', map { '{"chain":"' . $_ . '","seq":'
                                . $head{$_}[0] . ',"mac":"' . $head{$_}[1]
                                . '"}' } sort keys %head;
    chained($chain, '{"v":1,"type":"checkpoint","time":'
                    . '"2026-12-04T23:00:00.000Z","heads":[' . $heads . ']');
}

for my $i (1 .. 60) {
    my $chain = $i % 3 ? 'a1-18f' : 'b2-190';
    checkpoint($chain) if $i == 1 || $i == 2 || $i == 40;
    chained($chain, '{"v":1,"time":"2026-12-0' . ($i <= 30 ? 4 : 5)
                    . 'T23:59:59.000Z","id":"r' . $i . '","decision":'
                    . '"allow","department":"=x\\"\\\\\\u0001'
                    . "\xe2\x80\xa8\xef\xbf\xbd" . '","sub":"u' . $i . '"');
}

my $original = join '', @lines;
write_raw("$tmp/audit.log", $original);
my ($rc, $o) = run($PYTHON, "$ROOT/tools/llmgw-audit-verify", $KEY,
                   "$tmp/audit.log");
is($rc, 0, 'the original file verifies') or diag($o);

# @lines cut into objects of 5 lines, named by $name->(n, first line)
sub ship {
    my ($dir, $host, $name, %opt) = @_;
    my @objects;
    for (my $n = 0; $n * 5 < @lines; $n++) {
        my $last = $n * 5 + 4 < $#lines ? $n * 5 + 4 : $#lines;
        my @part = @lines[$n * 5 .. $last];
        my $day = $part[0] =~ /"time":"2026-12-05/ ? '05' : '04';
        @part = map { $opt{reserialize}->($_) } @part if $opt{reserialize};
        my $rel = "year=2026/month=12/day=$day/host=$host/"
                  . $name->($n + 1, $day);
        push @objects, [ $rel, join '', @part ];
    }
    # written in an order other than the shipping order
    for my $obj (reverse @objects) {
        my ($d) = "$dir/$obj->[0]" =~ m{^(.*)/};
        make_path($d);
        gzip(\$obj->[1] => "$dir/$obj->[0]") or die $GzipError;
    }
    return map { "$dir/$_->[0]" } @objects;
}

# Fluent Bit: %Y%m%dT%H%M%SZ-$INDEX.gz, all in one second: $INDEX orders
my $fb = "$tmp/fluent-bit";
my @fb = ship($fb, 'gw1', sub { "2026120$_[1]T235959Z-$_[0].gz" });
ok(@fb > 10, 'fluent bit: more than 9 objects (' . scalar(@fb) . ')');

($rc, $o) = run($SHIPPED, $KEY, $fb);
is($rc, 0, 'fluent bit objects: verify-shipped, intact') or diag($o);
like($o, qr/^OK: 63 lines, 2 chains intact$/m, 'fluent bit: every line');

my $cat = join '', map { slurp_gz($_) } @fb;
is($cat, $original, 'gunzip + concatenate in order: the original bytes');
write_raw("$tmp/fb.log", $cat);
($rc, $o) = run($PYTHON, "$ROOT/tools/llmgw-audit-verify", $KEY,
                "$tmp/fb.log");
is($rc, 0, 'gunzip + concatenate in order: intact') or diag($o);

my @lexical = sort @fb;
($rc, $o) = run($PYTHON, "$ROOT/tools/llmgw-audit-verify", $KEY, @lexical);
is($rc, 1, 'a lexical sort (10 before 2) breaks the chain') or diag($o);

# Vector: %Y%m%dT%H%M%S%.9fZ-UUID.log.gz
my $vec = "$tmp/vector";
my @uuid = map { sprintf '%08x-4%03x-8%03x-%012x', int(rand(2**32)),
                 int(rand(4096)), int(rand(4096)), int(rand(2**40)) } 1 .. 20;
my @vec = ship($vec, 'gw1', sub {
    sprintf('2026120%sT235959.%09dZ', $_[1], 999000000 + 7 * $_[0])
    . "-$uuid[$_[0]].log.gz" });
($rc, $o) = run($SHIPPED, $KEY, $vec);
is($rc, 0, 'vector objects: verify-shipped, intact') or diag($o);

# a missing object
unlink $fb[5] or die;
($rc, $o) = run($SHIPPED, $KEY, $fb);
is($rc, 1, 'an object missing: broken') or diag($o);
like($o, qr/jumps from seq/, 'an object missing: the gap named');

# two hosts: each its own chains
ship($vec, 'gw2', sub { "2026120$_[1]T235959Z-$_[0].gz" });
($rc, $o) = run($SHIPPED, $KEY, $vec);
is($rc, 2, 'two hosts and no HOST: exit 2');
like($o, qr/several hosts/, 'two hosts: said why');
($rc, $o) = run($SHIPPED, $KEY, $vec, 'gw2');
is($rc, 0, 'HOST gw2: intact') or diag($o);

# a shipper that parses and re-serializes the JSON breaks every MAC
my $rs = "$tmp/reserialized";
ship($rs, 'gw1', sub { "2026120$_[1]T235959Z-$_[0].gz" },
     reserialize => sub { $json->encode($json->decode($_[0])) . "\n" });
($rc, $o) = run($SHIPPED, $KEY, $rs);
is($rc, 1, 're-serialized lines: broken') or diag($o);
like($o, qr/edited/, 're-serialized lines: seen as edited');

($rc, $o) = run($SHIPPED, $KEY, "$tmp/none");
is($rc, 2, 'no such directory: exit 2');

done_testing();


sub slurp_gz {
    my ($path) = @_;
    my ($rc, $out) = run('gzip', '-dc', $path);
    return $out;
}
