# The admin API (llmgw_admin): the admin scope (no token 401, a token
# with `all` 403, a token whose scope only satisfies llmgw.admin through
# the tree 403, a token granting llmgw.admin 200); the CSV upload, its
# summary, the download byte for byte with Japanese names, a CSV with
# errors changing nothing; disable, enable, delete, get; each kind of
# revocation refusing the next request; the revocation list; malformed
# and oversized bodies 400/413 changing nothing; unknown endpoints and
# methods; the admin object of the audit lines.  Plain Test::More: one
# nginx whose state every call changes, in order.

use strict;
use warnings;
use utf8;

BEGIN { push @INC, 't/lib' }
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use Digest::SHA qw(sha256_hex);
use MIME::Base64 ();
use Encode qw(encode_utf8 decode_utf8);
use LLMGW::Test qw(:all);
use LLMGW::Nginx;
use LLMGW::Admin qw(admin_token admin_at call);

plan skip_all => 'TEST_NGINX_LOAD_MODULES is not set'
    unless $ENV{TEST_NGINX_LOAD_MODULES};

my $keys = llmgw_keys_dir();
my $dir = nginx_prefix();
my $port = free_port();
my $audit = "$dir/logs/audit.log";
my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 0);
my $json = JSON::PP->new->utf8->canonical;

binmode Test::More->builder->$_, ':encoding(UTF-8)'
    for qw(output failure_output todo_output);

# the workers write the state and the CSV: a directory they may write
mkdir "$dir/state";
chmod 0777, "$dir/state";
my $state = "$dir/state/state.jsonl";

nginx_conf($dir, <<"_EOC_");
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;

    llmgw_scopes {
        all     text;
        admin   llmgw.admin;
    }

    llmgw_state_zone state:1m;
    llmgw_state_file $state;
    llmgw_admin_csv $dir/state/users.csv;

    server {
        listen 127.0.0.1:$port;

        llmgw_jwt_keys $keys/jwks.json;

        location /admin/ {
            llmgw_auth jwt;
            llmgw_require_scope llmgw.admin;
            llmgw_state off;
            llmgw_audit $audit;
            client_max_body_size 8k;
            client_body_buffer_size 4k;
            llmgw_admin;
        }

        location /open-admin/ {
            llmgw_auth jwt;
            llmgw_state off;
            llmgw_admin;
        }

        location = /t {
            llmgw_auth jwt;
            alias $dir/html/ok.txt;
        }
    }
_EOC_

mkdir "$dir/html";
open my $ok, '>', "$dir/html/ok.txt" or die $!;
print $ok "ok\n";
close $ok;

my $pid = nginx_start($dir, $port) or BAIL_OUT('nginx did not start');

my $now = time;
my $admin = admin_token();
my $U = admin_at($port);

# the answer's text decoded: the directory has Japanese names
sub admin {
    my ($method, $path, $body) = @_;
    my ($s, $c) = call($method, $path, $admin, $body);
    return ($s, decode_utf8($c));
}

sub gw {
    my ($token) = @_;
    my $r = $http->get("http://127.0.0.1:$port/t",
                       { headers => { Authorization => "Bearer $token" } });
    return "$r->{status} $r->{content}";
}

# the items of a list as their canonical JSON, sorted
sub canon {
    return [ sort map { $json->encode($_) } @_ ];
}

# a cursor as the API makes one: base64url of the kind's byte and the id
sub cursor {
    my ($raw) = @_;
    my $b = MIME::Base64::encode_base64($raw, '');
    $b =~ tr{+/}{-_};
    $b =~ s/=+\z//;
    return $b;
}

# every page of GET /revocations?limit=$limit: (sizes, items)
sub pages {
    my ($limit) = @_;
    my ($cursor, @sizes, @items);

    do {
        my ($s, $c) = admin('GET', "/revocations?limit=$limit"
                                   . (defined $cursor ? "&cursor=$cursor"
                                                      : ''));
        return ([ "$s $c" ], []) if $s != 200;
        my $page = $json->decode(encode_utf8($c));
        push @sizes, scalar @{ $page->{revocations} };
        push @items, @{ $page->{revocations} };
        $cursor = $page->{next_cursor};
    } while (defined $cursor && @sizes < 10);

    return (\@sizes, \@items);
}

sub lines {
    open my $fh, '<:raw', $audit or return ();
    my @l = <$fh>;
    return @l;
}

# the admin object of the n-th audit line (1 the first); lines are written
# after the response: waited for
sub admin_line {
    my ($n) = @_;
    my @l;
    for (1 .. 100) {
        @l = lines();
        last if @l >= $n;
        select(undef, undef, undef, 0.02);
    }
    return undef unless @l >= $n;
    my $line = $json->decode($l[$n - 1]);
    return [ @$line{qw(method path status)}, $line->{admin} ];
}

my $H = "user_id,name,email,department,job_title,phone,start_date,"
        . "end_date,status\n";

# 1. the admin scope

my ($s, $c, $r) = call('GET', '/system/health');
is("$s $c", qq(401 {"error":{"code":"unauthorized","message":"missing bearer token"}}\n),
   'no token: 401');

($s, $c, $r) = call('GET', '/system/health',
                    llmgw_token(sub => 'u', scope => 'all'));
is($s, 403, 'a token with all: 403');
is($r->{headers}{'www-authenticate'},
   'Bearer realm="llmgw", error="insufficient_scope", '
   . 'error_description="insufficient scope", scope="llmgw.admin"',
   'a token with all: the challenge names llmgw.admin');

($s, $c, $r) = call('GET', '/system/health',
                    llmgw_token(sub => 'u', scope => 'admin'));
is("$s $c", qq(403 {"error":{"code":"insufficient_scope","message":"the )
            . qq(admin API needs a token that grants llmgw.admin itself",)
            . qq("scope":"llmgw.admin"}}\n),
   'a scope above llmgw.admin in the tree: 403 from the admin API itself');

($s, $c) = call('GET', '/system/health',
                llmgw_token(sub => 'u', scope => 'all'), undef);
$r = $http->get("http://127.0.0.1:$port/open-admin/system/health",
                { headers => { Authorization => 'Bearer '
                    . llmgw_token(sub => 'u', scope => 'all text') } });
is($r->{status}, 403,
   'a location without llmgw_require_scope: all still refused');

($s, $c) = admin('GET', '/system/health');
is("$s $c", qq(200 {"status":"ok","redis":false,"state_zone":true,)
            . qq("jwks":[],"audit":[{"sink":"$audit","failing":false,)
            . qq("lines_lost":0}],"stream_lag_ms":null}\n),
   'the admin token: health');

# 2. CSV upload, download, status

my $csv1 = $H
    . "E1001,山田 太郎,yamada\@example.co.jp,営業部,課長,03-1234-5678,"
    . "2020/04/01,,active\n"
    . "E1002,佐藤 花子,sato\@example.co.jp,経理部,主任,+81-3-1111-2222,"
    . "2021-10-01,2099-03-31,inactive\n"
    . "E1003,\"鈴木, 一郎\",suzuki\@example.co.jp,開発部,,,2020/04/01,,"
    . "active\n";

($s, $c) = admin('POST', '/users/csv/upload', encode_utf8($csv1));
is("$s $c", qq(200 {"users":3,"added":["E1001","E1002","E1003"],)
            . qq("disabled":[],"re_enabled":[],"moved":[],"changes":3}\n),
   'upload: the summary');

($s, $c, $r) = call('GET', '/users/csv/download', $admin);
is($s, 200, 'download: 200');
is($r->{headers}{'content-type'}, 'text/csv; charset=utf-8',
   'download: text/csv');
is(decode_utf8($c), $csv1, 'download: the CSV byte for byte (Japanese)');

($s, $c) = admin('GET', '/users/E1001');
is("$s $c", qq(200 {"user_id":"E1001","active":true,"department":"営業部",)
            . qq("start":1585699200,"end":null,"not_before":null}\n),
   'get: the account');

($s, $c) = admin('GET', '/users/sync/status');
like($c, qr/^\{"users":3,"active":2,"disabled":1,"uploaded":\d+\}\n\z/,
     'sync status: counts');

my $e1 = llmgw_token(sub => 'E1001');
my $e2 = llmgw_token(sub => 'E1002');

is(gw($e1), "200 ok\n", 'an active user passes');
is(gw($e2), qq(403 {"error":{"code":"forbidden","message":"account )
            . qq(disabled"}}\n), 'an inactive user: 403 account disabled');
is(gw(llmgw_token(sub => 'E9999')),
   qq(403 {"error":{"code":"forbidden","message":"account unknown"}}\n),
   'a user outside the uploaded directory: 403 account unknown');

# 3. a CSV with errors changes nothing

my $bad = $H
    . "E1001,山田 太郎,yamada\@example.co.jp,営業部,課長,,2020/04/01,,active\n"
    . "E1004,=cmd(),x\@example.co.jp,営業部,,,2020/13/01,,gone\n";

($s, $c) = admin('POST', '/users/csv/upload', encode_utf8($bad));
is("$s $c", qq(400 {"error":{"code":"invalid_request","message":"the CSV )
            . qq(has 3 errors; nothing changed"},"errors":[)
            . qq("line 3: name: starts with = + - or \@ (formula injection)",)
            . qq("line 3: start_date: no such date",)
            . qq("line 3: status: unknown status (active or inactive)"]}\n),
   'upload with errors: 400 and the errors by line');

($s, $c) = call('GET', '/users/csv/download', $admin);
is(decode_utf8($c), $csv1, 'upload with errors: the CSV kept is the old');
($s, $c) = admin('GET', '/users/sync/status');
like($c, qr/^\{"users":3,"active":2,/, 'upload with errors: no change');

# 4. disable, enable, delete

($s, $c) = admin('PUT', '/users/E1002/enable');
is("$s $c", qq(200 {"user_id":"E1002","active":true,"department":"経理部",)
            . qq("start":1633046400,"end":4078684800}\n), 'enable');
is(gw($e2), "200 ok\n", 'the re-enabled user passes');

($s, $c) = admin('PUT', '/users/E1001/disable');
is("$s $c", qq(200 {"user_id":"E1001","active":false,"department":"営業部",)
            . qq("start":1585699200,"end":null}\n), 'disable');
like(gw($e1), qr/^403 .*"account disabled"/, 'the disabled user: 403');

($s, $c) = admin('PUT', '/users/E1001/enable');
is(gw($e1), "200 ok\n", 'enabled again: passes');

($s, $c) = admin('DELETE', '/users/E1003');
is("$s $c", qq(200 {"user_id":"E1003","deleted":true}\n), 'delete');
($s, $c) = admin('GET', '/users/E1003');
is("$s $c", qq(404 {"error":{"code":"not_found","message":"no such user"}}\n),
   'a deleted user: 404');
($s, $c) = admin('PUT', '/users/E1003/disable');
is($s, 404, 'disable an unknown user: 404');

# 5. revocations

my $stolen = llmgw_token(sub => 'E1001', jti => 'stolen-1');
is(gw($stolen), "200 ok\n", 'a token before its revocation passes');

my $exp = $now + 3600;
($s, $c) = admin('POST', '/tokens/revoke',
                 qq({"jti":"stolen-1","exp":$exp}));
is("$s $c", qq(200 {"revoked":{"jti_sha256":") . sha256_hex('stolen-1')
            . qq(","exp":$exp}}\n), 'revoke a jti');
like(gw($stolen), qr/^401 .*"token revoked"/,
     'the revoked jti: 401 on the next request');
is(gw(llmgw_token(sub => 'E1001', jti => 'other')), "200 ok\n",
   'another token of the user passes');

my $app = llmgw_token(sub => 'E1002', claims => { client_id => 'app-1' });
is(gw($app), "200 ok\n", 'a client before its revocation passes');
($s, $c) = admin('POST', '/tokens/revoke', '{"client_id":"app-1"}');
is("$s $c", qq(200 {"revoked":{"client_id":"app-1"}}\n), 'revoke a client');
like(gw($app), qr/^401 .*"client revoked"/, 'the revoked client: 401');

my $old = llmgw_token(sub => 'E1002', now => $now - 10);
is(gw($old), "200 ok\n", 'an older token of E1002 passes');
($s, $c) = admin('POST', '/tokens/revoke', '{"sub":"E1002"}');
like("$s $c", qr/^200 \{"revoked":\{"sub":"E1002","not_before":\d+\}\}\n\z/,
     'revoke every token of a user');
like(gw($old), qr/^401 .*"token issued before the user's not-before time"/,
     'log out everywhere: the older token 401');

($s, $c) = admin('GET', '/revocations');
my $list = $json->decode(encode_utf8($c));
my ($nbf) = map { $_->{not_before} } grep { exists $_->{sub} }
            @{ $list->{revocations} };
is($list->{next_cursor}, undef, 'the revocation list: one page');
like($nbf, qr/\A\d+\z/, 'the not-before time a number');
is_deeply(canon(@{ $list->{revocations} }),
          canon({ jti_sha256 => sha256_hex('stolen-1'), exp => $exp },
                { client_id => 'app-1' },
                { sub => 'E1002', not_before => $nbf }),
          'the revocation list: each kind with its members');

# 5b. pages: limit=1 three, limit=2 two, each revocation once

for my $t ([ 1, [ 1, 1, 1 ] ], [ 2, [ 2, 1 ] ], [ 3, [ 3 ] ]) {
    my ($sizes, $items) = pages($t->[0]);
    is_deeply($sizes, $t->[1], "limit=$t->[0]: pages of @{ $t->[1] }");
    is_deeply(canon(@$items), canon(@{ $list->{revocations} }),
              "limit=$t->[0]: the pages hold the list");
}

for my $t ([ 'limit=0', 'limit must be 1 to 10000' ],
           [ 'limit=10001', 'limit must be 1 to 10000' ],
           [ 'limit=x', 'limit must be 1 to 10000' ],
           [ 'limit=-1', 'limit must be 1 to 10000' ],
           [ 'cursor=', 'not a cursor of this API' ],
           [ 'cursor=!!!', 'not a cursor of this API' ],
           [ 'cursor=AA', 'not a cursor of this API' ],
           [ 'cursor=' . cursor("\x00E1002"), 'not a cursor of this API' ],
           [ 'cursor=' . cursor("\x01zz"), 'not a cursor of this API' ],
           [ 'cursor=' . ('A' x 400), 'not a cursor of this API' ])
{
    ($s, $c) = admin('GET', "/revocations?$t->[0]");
    is("$s $c", qq(400 {"error":{"code":"invalid_request","message":)
                . qq("$t->[1]"}}\n), "GET /revocations?$t->[0]: 400");
}

($s, $c) = admin('GET', '/revocations?limit=10000');
is_deeply($json->decode(encode_utf8($c)), $list, 'limit=10000: the list');

# 6. malformed calls change nothing

for my $t ([ 'not JSON', '{"sub":' ],
           [ 'two kinds', '{"sub":"a","client_id":"b"}' ],
           [ 'an unknown member', '{"jti":"x","exp":1,"why":"x"}' ],
           [ 'exp not a number', '{"jti":"x","exp":"1"}' ],
           [ 'an array', '[]' ],
           [ 'empty', '' ])
{
    ($s, $c) = admin('POST', '/tokens/revoke', $t->[1]);
    is("$s $c", qq(400 {"error":{"code":"invalid_request","message":"the )
                . qq(body must be one of {\\"jti\\":..,\\"exp\\":..}, )
                . qq({\\"sub\\":..}, {\\"client_id\\":..}"}}\n),
       "revoke, $t->[0]: 400");
}

($s, $c) = admin('POST', '/tokens/revoke', '{"jti":"old","exp":1000}');
is("$s $c", qq(400 {"error":{"code":"invalid_request","message":"the )
            . qq(token has expired: nothing to revoke"}}\n),
   'revoke an expired token: 400');

($s, $c) = admin('POST', '/tokens/revoke',
                 '{"client_id":"' . ('x' x 7000) . '"}');
is("$s $c", qq(413 {"error":{"code":"payload_too_large","message":"the )
            . qq(body must fit in client_body_buffer_size"}}\n),
   'a body over client_body_buffer_size: 413');

($s, $c) = admin('POST', '/users/csv/upload', $H . ('x' x 9000));
is("$s $c", qq(413 {"error":{"code":"payload_too_large","message":"the )
            . qq(request body is too large"}}\n),
   'a body over client_max_body_size: 413 in JSON');

($s, $c) = admin('GET', '/revocations');
is_deeply($json->decode(encode_utf8($c)), $list,
          'malformed calls: the revocations unchanged');

# 6b. revocations lifted: the token passes again; the list as before

my $lifted = llmgw_token(sub => 'E1001', jti => 'lifted-1');
my $app2 = llmgw_token(sub => 'E1001', claims => { client_id => 'app-2' });

($s, $c) = admin('POST', '/tokens/revoke',
                 qq({"jti":"lifted-1","exp":$exp}));
is($s, 200, 'revoke lifted-1');
($s, $c) = admin('POST', '/tokens/revoke', '{"client_id":"app-2"}');
is($s, 200, 'revoke app-2');
like(gw($lifted), qr/^401 .*"token revoked"/, 'lifted-1 revoked: 401');
like(gw($app2), qr/^401 .*"client revoked"/, 'app-2 revoked: 401');

($s, $c) = admin('POST', '/tokens/unrevoke', '{"jti":"lifted-1"}');
is("$s $c", qq(200 {"unrevoked":{"jti_sha256":") . sha256_hex('lifted-1')
            . qq("}}\n), 'unrevoke a jti');
is(gw($lifted), "200 ok\n", 'the jti lifted: the token passes again');

($s, $c) = admin('POST', '/tokens/unrevoke', '{"client_id":"app-2"}');
is("$s $c", qq(200 {"unrevoked":{"client_id":"app-2"}}\n),
   'unrevoke a client');
is(gw($app2), "200 ok\n", 'the client lifted: app-2 passes again');

($s, $c) = admin('POST', '/tokens/unrevoke', '{"client_id":"never"}');
is("$s $c", qq(200 {"unrevoked":{"client_id":"never"}}\n),
   'unrevoke what is not revoked: 200 all the same');

for my $t ([ 'a jti with exp', qq({"jti":"lifted-1","exp":$exp}) ],
           [ 'two kinds', '{"sub":"a","client_id":"b"}' ],
           [ 'not JSON', '{' ])
{
    ($s, $c) = admin('POST', '/tokens/unrevoke', $t->[1]);
    is("$s $c", qq(400 {"error":{"code":"invalid_request","message":"the )
                . qq(body must be one of {\\"jti\\":..}, )
                . qq({\\"sub\\":..}, {\\"client_id\\":..}"}}\n),
       "unrevoke, $t->[0]: 400");
}

($s, $c) = admin('GET', '/revocations');
is_deeply($json->decode(encode_utf8($c)), $list,
          'lifted: the revocations as before');

($s, $c) = admin('GET', '/users/E1001/disable');
is("$s $c", qq(405 {"error":{"code":"method_not_allowed","message":)
            . qq("method not allowed here"}}\n), 'a wrong method: 405');
($s, $c) = admin('GET', '/nothing/here');
is("$s $c", qq(404 {"error":{"code":"not_found","message":)
            . qq("no such admin endpoint"}}\n), 'an unknown endpoint: 404');
($s, $c) = admin('GET', '/users/-x');
is("$s $c", qq(400 {"error":{"code":"invalid_request","message":)
            . qq("not a valid user_id"}}\n), 'an invalid user_id: 400');

# 7. a new directory: E1001 moved, E1002 missing (disabled), E1004 added

my $csv2 = $H
    . "E1001,山田 太郎,yamada\@example.co.jp,人事部,課長,03-1234-5678,"
    . "2020/04/01,,active\n"
    . "E1004,高橋 次郎,takahashi\@example.co.jp,総務部,,,2020/04/01,,"
    . "active\n";

($s, $c) = admin('POST', '/users/csv/upload', encode_utf8($csv2));
is("$s $c", qq(200 {"users":2,"added":["E1004"],"disabled":["E1002"],)
            . qq("re_enabled":[],"moved":[{"user_id":"E1001","from":"営業部",)
            . qq("to":"人事部"}],"changes":3}\n),
   'a second upload: added, disabled (missing), moved');
($s, $c) = admin('GET', '/users/E1002');
like($c, qr/"active":false/, 'the missing user is disabled, not deleted');

# 7b. tools/llmgw-users apply: validated here, uploaded, the summary

my $csv3 = $csv2
    . "E1002,佐藤 花子,sato\@example.co.jp,経理部,主任,,2021-10-01,,active\n";
open my $fh, '>:raw', "$dir/users3.csv" or die $!;
print $fh encode_utf8($csv3);
close $fh;

{
    local $ENV{LLMGW_ADMIN_TOKEN} = $admin;
    my $out = decode_utf8(scalar `tools/llmgw-users apply $dir/users3.csv --url $U 2>&1`);
    is($? >> 8, 0, 'llmgw-users apply: exit 0');
    is($out, "re-enabled E1002\n# 3 users, 0 added, 0 disabled, "
             . "1 re-enabled, 0 moved, 1 accounts written\n",
       'llmgw-users apply: what changed');

    open $fh, '>:raw', "$dir/bad.csv" or die $!;
    print $fh $H, "E1,x,y,,,,2020/01/01,,active\n";
    close $fh;
    $out = `tools/llmgw-users apply $dir/bad.csv --url $U 2>/dev/null`;
    is($? >> 8, 1, 'llmgw-users apply, a bad file: exit 1');
    is($out, "line 2: email: not an address\n",
       'llmgw-users apply, a bad file: its errors, nothing sent');
}

{
    local $ENV{LLMGW_ADMIN_TOKEN} = llmgw_token(sub => 'u', scope => 'all');
    my $out = `tools/llmgw-users apply $dir/users3.csv --url $U 2>&1`;
    is($? >> 8, 2, 'llmgw-users apply without the admin scope: exit 2');
    like($out, qr/refused by the gateway: 403 insufficient scope$/,
         'llmgw-users apply without the admin scope: the refusal');
}

($s, $c) = call('GET', '/users/csv/download', $admin);
is(decode_utf8($c), $csv3, 'llmgw-users apply: the CSV kept');

# 8. the state file and its journal (ngx_http_llmgw_state_publish appends
# every change to FILE.journal; the master folds it into FILE at a reload)
# have every change

my @state = map { $json->decode($_) } map {
    open my $fh, '<:raw', $_ or die "$_: $!"; <$fh>
} grep { -e } $state, "$state.journal";
is_deeply([ grep { $_->{client_id} } @state ],
          [ { client_id => 'app-1' }, { client_id => 'app-2' },
            { client_id => 'app-2', remove => JSON::PP::true },
            { client_id => 'never', remove => JSON::PP::true } ],
          'the state file has the revoked clients and the lifted ones');

# 9. the audit lines' admin objects

is_deeply(admin_line(1),
          [ 'GET', '/admin/system/health', 401,
            { action => 'system.health', target => undef,
              result => 'refused', before => undef, after => undef } ],
          'audit: no token, refused');
is_deeply(admin_line(3),
          [ 'GET', '/admin/system/health', 403,
            { action => 'system.health', target => undef,
              result => 'refused', before => undef, after => undef } ],
          'audit: refused by the admin API itself');

my @all = map { $json->decode($_) } lines();
my ($dis) = grep { $_->{path} eq '/admin/users/E1001/disable' } @all;
is_deeply([ @$dis{qw(sub status)}, $dis->{admin} ],
          [ 'ops', 200,
            { action => 'user.disable', target => 'E1001',
              result => 'allowed',
              before => { user_id => 'E1001', active => JSON::PP::true,
                          department => '営業部', start => 1585699200,
                          end => undef },
              after => { user_id => 'E1001', active => JSON::PP::false,
                         department => '営業部', start => 1585699200,
                         end => undef } } ],
          'audit: disable, who, before and after');

my ($rev) = grep { $_->{path} eq '/admin/tokens/revoke' && $_->{status} == 200 }
            @all;
is_deeply($rev->{admin},
          { action => 'tokens.revoke', target => sha256_hex('stolen-1'),
            result => 'allowed', before => undef,
            after => { jti_sha256 => sha256_hex('stolen-1'),
                       exp => $exp } },
          'audit: a revocation names the jti by its hash');
unlike(join('', lines()), qr/"stolen-1"/, 'audit: the jti itself never');

my ($unrev) = grep { $_->{path} eq '/admin/tokens/unrevoke'
                     && $_->{status} == 200 } @all;
is_deeply($unrev->{admin},
          { action => 'tokens.unrevoke', target => sha256_hex('lifted-1'),
            result => 'allowed',
            before => { jti_sha256 => sha256_hex('lifted-1'), exp => $exp },
            after => undef },
          'audit: a lifted revocation, before and after');

my ($up) = grep { $_->{path} eq '/admin/users/csv/upload'
                  && $_->{status} == 400 } @all;
is_deeply($up->{admin},
          { action => 'users.csv.upload', target => undef,
            result => 'allowed', before => undef, after => undef },
          'audit: a refused CSV changes nothing');

nginx_stop($pid);

done_testing();
