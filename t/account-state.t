# The account state across starts, reloads and restarts: the state file
# (llmgw_state_file) loaded at start and written whole after the user
# directory is applied; a restart keeps revocations and accounts; a
# reload with a new CSV disables the users it no longer has and moves
# departments; the audit line's department comes from the directory when
# the token carries none; a damaged state file stops nginx -t with its
# line; nginx -t writes nothing.  Plain Test::More: restarts, HUP, files.

use strict;
use warnings;
use utf8;

BEGIN { push @INC, 't/lib' }
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use Digest::SHA qw(sha256_hex);
use POSIX qw(strftime);
use LLMGW::Test qw(:all);
use LLMGW::Nginx;

plan skip_all => 'TEST_NGINX_LOAD_MODULES is not set'
    unless $ENV{TEST_NGINX_LOAD_MODULES};

my $keys = llmgw_keys_dir();
my $dir = nginx_prefix();
my $port = free_port();
my $state = "$dir/state.jsonl";
my $audit = "$dir/logs/audit.log";
# a connection a request: after a HUP the old worker closes idle ones
my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 0);
my $json = JSON::PP->new->utf8->canonical;

binmode Test::More->builder->$_, ':encoding(UTF-8)'
    for qw(output failure_output todo_output);
my $now = time;

sub spew {
    my ($file, $s) = @_;
    open my $fh, '>:encoding(UTF-8)', $file or die "$file: $!";
    print $fh $s;
    close $fh;
}

sub lines {
    my ($file) = @_;
    open my $fh, '<:raw', $file or return ();
    my @l = <$fh>;
    close $fh;
    return @l;
}

my $H = "user_id,name,email,department,job_title,phone,start_date,"
        . "end_date,status\n";

sub csv {
    spew("$dir/users.csv", $H . join '', map { "$_\n" } @_);
}

sub conf {
    my ($users) = @_;

    nginx_conf($dir, <<"_EOC_");
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;
    llmgw_token_cache_zone tokens:1m;
    llmgw_state_zone state:1m;
    llmgw_state_file $state;
    @{[ $users ? "llmgw_users $dir/users.csv utc_offset=+09:00;" : '' ]}
    llmgw_audit_department_claim dept;

    server {
        listen 127.0.0.1:$port;

        location = /t {
            llmgw_audit $audit;
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            alias $dir/html/ok.txt;
        }
    }
_EOC_
}

my $seen = 0;   # audit lines before the last request

sub get {
    my ($token) = @_;
    $seen = () = lines($audit);
    my $r = $http->get("http://127.0.0.1:$port/t",
                       { headers => { Authorization => "Bearer $token" } });
    diag("$r->{status}: $r->{content}") if $r->{status} == 599;
    return $r->{status};
}

# the department of the last request's audit line: the line is written
# after the response is sent, so it is waited for
sub department {
    my @l;

    for (1 .. 100) {
        @l = lines($audit);
        last if @l > $seen;
        select(undef, undef, undef, 0.02);
    }

    return @l > $seen ? $json->decode($l[-1])->{department} : 'no line';
}

spew("$dir/html/ok.txt", "ok\n");

my $stolen = llmgw_token(sub => 'E1', jti => 'stolen');
my $e1 = llmgw_token(sub => 'E1');
my $e2 = llmgw_token(sub => 'E2');
my $e3 = llmgw_token(sub => 'E3');
# E3 logged out everywhere 5 s after $e3 was issued: the margin counts
# from the token's own iat, not from the clock, so a slow start of nginx
# cannot carry the requests past it
my $e3_nbf = (llmgw_jwt_decode($e3))[1]{iat} + 5;
my $e1dept = llmgw_token(sub => 'E1', claims => { dept => 'from-token' });

# 1. first start: a state file with a revocation, and a directory

spew($state, qq({"llmgw_state":1}\n)
             . '{"jti_hash":"' . sha256_hex('stolen') . '","exp":'
             . ($now + 3600) . "}\n"
             . qq({"subject":"E3","not_before":$e3_nbf}\n));

csv("E1,山田 太郎,yamada\@example.jp,営業部,,,2020/04/01,,active",
    "E2,佐藤 花子,sato\@example.jp,経理部,,,2020/04/01,,inactive",
    "E3,鈴木 一郎,suzuki\@example.jp,開発部,,,2020/04/01,,active");

conf(1);

# nginx -t reads both files and writes nothing
my $before = join '', lines($state);
my ($ok, $out) = nginx_check($dir);
ok($ok, 'nginx -t accepts the state file and the directory') or diag $out;
is(join('', lines($state)), $before, 'nginx -t leaves the state file alone');

my $pid = nginx_start($dir, $port) or BAIL_OUT('nginx did not start');

is(get($stolen), 401, 'start: the revoked jti from the state file: 401');
is(get($e1), 200, 'start: an active user: 200');
is(department(), '営業部',
   'the audit line has the directory\'s department');
is(get($e1dept), 200, 'a token with its own department: 200');
is(department(), 'from-token', 'the token\'s claim wins over the directory');
is(get($e2), 403, 'start: an inactive user: 403');
is(department(), '経理部', 'a refused user\'s audit line has it too');
is(get($e3), 401, 'start: a token before E3\'s not-before time: 401');

my @entries = map { $json->decode($_) } lines($state);

is_deeply($entries[0], { llmgw_state => 1 }, 'state file: version line');
is_deeply([ grep { $_->{user_id} } @entries ],
          [ { user_id => 'E1', active => JSON::PP::true,
              department => '営業部',
              start => 1585666800 },
            { user_id => 'E2', active => JSON::PP::false,
              department => '経理部',
              start => 1585666800 },
            { user_id => 'E3', active => JSON::PP::true,
              department => '開発部',
              start => 1585666800 } ],
          'state file: the users, 2020/04/01 at +09:00');
is(scalar(grep { $_->{jti_hash} && $_->{jti_hash} eq sha256_hex('stolen') }
          @entries), 1, 'state file: the revocation kept');
ok(! -e "$state.tmp", 'no temporary file left');

# 2. restart without llmgw_users: everything comes from the state file

nginx_stop($pid);
conf(0);
$pid = nginx_start($dir, $port) or BAIL_OUT('nginx did not restart');

is(get($stolen), 401, 'restart: the revoked jti still refused');
is(get($e2), 403, 'restart: the inactive user still refused');
is(get($e1), 200, 'restart: the active user still passes');
is(department(), '営業部', 'restart: the department still known');
is(get($e3), 401, 'restart: the not-before time still applies');

# 3. reload with a new directory: E1 moved, E2 gone (disabled), E4 added

nginx_stop($pid);

csv("E1,山田 太郎,yamada\@example.jp,経理部,,,2020/04/01,,active",
    "E4,高橋 次郎,takahashi\@example.jp,総務部,,,2020/04/01,,active");
conf(1);

$pid = nginx_start($dir, $port) or BAIL_OUT('nginx did not start');

csv("E1,山田 太郎,yamada\@example.jp,人事部,,,2020/04/01,,active",
    "E2,佐藤 花子,sato\@example.jp,経理部,,,2020/04/01,,active");
kill 'HUP', $pid;

my $status = 0;

for (1 .. 50) {
    $status = get($e2);
    last if $status == 200;
    select(undef, undef, undef, 0.1);
}

is($status, 200, 'reload: E2 active again in the new CSV');
is(get($e1), 200, 'reload: E1 passes');
is(department(), '人事部', 'reload: E1\'s department moved');
is(get(llmgw_token(sub => 'E4')), 403,
   'reload: E4, missing from the new CSV, is disabled, not unknown');

my ($e4) = grep { ($_->{user_id} // '') eq 'E4' }
           map { $json->decode($_) } lines($state);
is($e4 && $e4->{active} ? 1 : 0, 0, 'state file: E4 kept, disabled');

nginx_stop($pid);

my $log = join '', lines("$dir/logs/error.log");
# (an ASan build's workers report nginx's own leaks at exit: not counted)
unlike($log, qr/exited on signal|ERROR: AddressSanitizer|runtime error/,
       'no worker crashed, no sanitizer report')
    or diag($log);

# 4. a damaged state file stops nginx -t and says where

for my $case (["{\"llmgw_state\":2}\n", qr/line 1: not an llmgw state file/],
              ["{\"llmgw_state\":1}\n{\"client_id\":\"a\",\"x\":1}\n",
               qr/line 2: unknown member/],
              ["{\"llmgw_state\":1}\n{\"jti_hash\":\"zz\",\"exp\":1}\n",
               qr/line 2: invalid id/],
              ["{\"llmgw_state\":1}\n{\"subject\":\"a\"", 
               qr/line 2: line not ended/])
{
    spew($state, $case->[0]);
    my ($ok, $out) = nginx_check($dir);
    ok(!$ok, "damaged state file refused: $case->[1]");
    like($out, qr/llmgw state file "\Q$state\E", $case->[1]/,
         'nginx -t names the line');
}

done_testing();
