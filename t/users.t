# The user directory's CSV, checked two ways that must agree: tools/
# llmgw-users validate and nginx -t with llmgw_users (the C parser, also
# run on the same t/users/ vectors by t/unit/test_users.c), each against
# the vector's .expect, line for line.  Then llmgw-users diff: added,
# disabled (inactive or missing), re-enabled, moved, dates.  Plain
# Test::More: one nginx -t per file.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use LLMGW::Test qw(:all);
use LLMGW::Nginx;

my $modules = $ENV{TEST_NGINX_LOAD_MODULES}
    or plan skip_all => 'TEST_NGINX_LOAD_MODULES is not set';

my $ROOT = llmgw_root();
my $TOOL = "$ROOT/tools/llmgw-users";
my $dir = nginx_prefix();

opendir my $dh, "$ROOT/t/users" or die "t/users: $!";
my @vectors = sort map { /^(.+)\.csv\z/ ? $1 : () } readdir $dh;
closedir $dh;

sub slurp {
    my ($file) = @_;
    open my $fh, '<:raw', $file or die "$file: $!";
    local $/;
    my $s = <$fh>;
    close $fh;
    return $s;
}

sub spew {
    my ($file, $s) = @_;
    open my $fh, '>:raw', $file or die "$file: $!";
    print $fh $s;
    close $fh;
}

for my $v (@vectors) {
    my $csv = "$ROOT/t/users/$v.csv";
    my $expect = slurp("$ROOT/t/users/$v.expect");

    # the tool
    my ($status, $out, $err) = llmgw_run($PYTHON, $TOOL, 'validate', $csv);

    is($out, $expect, "$v: llmgw-users validate says what $v.expect says");
    is($status >> 8, $expect =~ /^ok / ? 0 : 1, "$v: its exit status");

    # nginx -t
    nginx_conf($dir, "llmgw_state_zone s:1m; llmgw_users $csv;");
    my ($ok, $log) = nginx_check($dir);

    if ($expect =~ /^ok /) {
        ok($ok, "$v: nginx -t accepts it") or diag($log);
        next;
    }

    # what nginx -t printed (the error log has the same lines again)
    my @said = $log =~ /^nginx:\ \[emerg\]\ llmgw_users\ "\Q$csv\E",
                        \ (line\ [^\n]*?)\ in\ \S+:\d+$/mgx;

    my ($n) = $log =~ /^nginx:\ \[emerg\]\ llmgw_users\ "\Q$csv\E"
                       \ refused:\ (\d+\ errors?)\ in\ /mx;

    ok(!$ok, "$v: nginx -t refuses it");
    is(join('', map { "$_\n" } @said), $expect,
       "$v: nginx -t names the same lines and errors");
    is($n, @said == 1 ? '1 error' : scalar(@said) . ' errors',
       "$v: then counts them");
}

# diff

my $H = "user_id,name,email,department,job_title,phone,start_date,"
        . "end_date,status\n";

spew("$dir/old.csv", $H
     . "E1,山田,y\@example.jp,営業部,,,2020/04/01,,active\n"
     . "E2,佐藤,s\@example.jp,経理部,,,2020/04/01,,active\n"
     . "E3,鈴木,z\@example.jp,開発部,,,2020/04/01,,inactive\n"
     . "E4,高橋,t\@example.jp,総務部,,,2020/04/01,,active\n"
     . "E5,田中,n\@example.jp,人事部,,,2020/04/01,,active\n");

spew("$dir/new.csv", $H
     . "E1,山田,y\@example.jp,経理部,,,2020/04/01,,active\n"
     . "E2,佐藤,s\@example.jp,経理部,,,2020/04/01,,inactive\n"
     . "E3,鈴木,z\@example.jp,開発部,,,2020/04/01,,active\n"
     . "E5,田中,n\@example.jp,人事部,,,2020/04/01,2027-03-31,active\n"
     . "E6,伊藤,i\@example.jp,営業部,,,2026/12/01,,active\n");

my ($status, $out) = llmgw_run($PYTHON, $TOOL, 'diff', "$dir/old.csv",
                               "$dir/new.csv");

is($status, 0, 'diff: exit status 0');
is($out, <<'_EOT_', 'diff: every kind of change, in user_id order');
moved E1 営業部 -> 経理部
disabled E2 (inactive)
re-enabled E3
disabled E4 (missing)
dates E5 2020-04-01..2027-03-31
added E6 営業部
# 1 added, 2 disabled, 1 re-enabled, 1 moved, 1 dates changed
_EOT_

($status, $out) = llmgw_run($PYTHON, $TOOL, 'diff', '--json',
                            "$dir/old.csv", "$dir/new.csv");

my @lines = split /\n/, $out;
is(scalar @lines, 6, 'diff --json: a line a change');
is($lines[3], '{"change": "disabled", "user_id": "E4", "why": "missing"}',
   'diff --json: a missing user is disabled');

($status, $out) = llmgw_run($PYTHON, $TOOL, 'diff', "$dir/old.csv",
                            "$ROOT/t/users/bad-dates.csv");

is($status >> 8, 1, 'diff refuses a NEW with errors');
like($out, qr/^line 2: start_date: no such date$/m, 'and names them');

done_testing();
