# Registered clients (llmgw_clients) managed through the admin API: the
# file is the baseline, the API's changes are records in the state zone
# (llmgw_state_zone) that win over the file's line.  The list and one
# client, each with its source; a pending client's token with `all` gets
# its pending ceiling; PUT approves it and the very next request gets the
# approved ceiling (no reload); a new client, DELETE of a file's client
# (unknown= applies), PUT brings it back; the approve endpoint, of a
# record and of a client only in the file; malformed and invalid PUTs
# change nothing (400); a token without the admin scope is refused; the
# changes survive a restart (the state file's journal); a record naming
# a scope that a reload removed from llmgw_scopes loses it (logged); the
# admin object of the audit lines.  The workers run as nobody under a
# root master: they can neither signal it nor write the clients file.
# Plain Test::More: one nginx, restarted and reloaded, in order.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(time sleep);
use LLMGW::Test qw(:all);
use LLMGW::Nginx qw(:DEFAULT slurp);
use LLMGW::Admin;

plan skip_all => 'TEST_NGINX_LOAD_MODULES is not set'
    unless $ENV{TEST_NGINX_LOAD_MODULES};

my $keys = llmgw_keys_dir();
my $dir = nginx_prefix();
my $port = free_port();
my $audit = "$dir/logs/audit.log";
my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 0);
my $json = JSON::PP->new->utf8->canonical;

# the file only root may write: the workers never write it now
my $file = "$dir/clients.csv";

sub write_file {
    my ($name, $text) = @_;
    open my $fh, '>', "$name.new" or die "$name: $!";
    print $fh $text;
    close $fh;
    rename "$name.new", $name or die "$name: $!";
}

write_file($file, <<'_EOF_');
client_id,status,ceiling,pending_ceiling
dcr-new,pending,text audio,claude
tool-b,pending,audio,
web-chat,approved,text,
_EOF_
chmod 0644, $file;

sub conf {
    my ($tree) = @_;

    nginx_conf($dir, <<"_EOC_");
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;

    llmgw_state_zone state:1m;
    llmgw_state_file $dir/state.json;
    llmgw_token_cache_zone tokens:1m;

    llmgw_scopes {
$tree
        admin   llmgw.admin;
    }

    llmgw_clients $file unknown=deny;

    server {
        listen 127.0.0.1:$port;

        llmgw_jwt_keys $keys/jwks.json;

        location /admin/ {
            llmgw_auth jwt;
            llmgw_client_ceiling off;
            llmgw_state off;
            llmgw_require_scope llmgw.admin;
            llmgw_audit $audit;
            client_max_body_size 8k;
            client_body_buffer_size 4k;
            llmgw_admin;
        }

        location = /t {
            llmgw_auth jwt;
            llmgw_state off;
            add_header X-Scopes "\$llmgw_scopes" always;
            alias $dir/html/ok.txt;
        }
    }
_EOC_
}

conf(<<'_EOT_');
        all     text audio;
        text    claude openai.text;
        audio   openai.stt;
_EOT_

mkdir "$dir/html";
open my $ok, '>', "$dir/html/ok.txt" or die $!;
print $ok "ok\n";
close $ok;

my $pid = nginx_start($dir, $port) or BAIL_OUT('nginx did not start');

admin_at($port);

# a token of client with `all` (or the token given): "status X-Scopes"
sub gw {
    my ($client, $t) = @_;
    $t //= llmgw_token(scope => 'all', claims => { client_id => $client });
    my $r = $http->get("http://127.0.0.1:$port/t",
                       { headers => { Authorization => "Bearer $t" } });
    return "$r->{status} " . ($r->{headers}{'x-scopes'} // '');
}

# the list's clients: "id:status:source ..."
sub listed {
    my ($s, $c) = admin('GET', '/clients');
    return "$s " . join ' ', map { "$_->{client_id}:$_->{status}:$_->{source}" }
                             @{ $json->decode($c)->{clients} };
}

my $orig = slurp($file);

# the clients of the file

my ($s, $c) = admin('GET', '/clients');
is($s, 200, 'list: 200');
is_deeply($json->decode($c),
          { clients => [
              { client_id => 'dcr-new', status => 'pending',
                ceiling => [ 'text', 'audio' ],
                pending_ceiling => [ 'claude' ], source => 'file' },
              { client_id => 'tool-b', status => 'pending',
                ceiling => [ 'audio' ], pending_ceiling => [],
                source => 'file' },
              { client_id => 'web-chat', status => 'approved',
                ceiling => [ 'text' ], pending_ceiling => [],
                source => 'file' } ] },
          'list: the file\'s clients, sorted, source file');

($s, $c) = admin('GET', '/clients/web-chat');
is("$s $c", '200 {"client_id":"web-chat","status":"approved",'
            . '"ceiling":["text"],"pending_ceiling":[],"source":"file"}'
            . "\n", 'get: one client');

($s, $c) = admin('GET', '/clients/nobody');
is("$s $c", '404 {"error":{"code":"not_found","message":"no such client"}}'
            . "\n", 'get: an unknown client 404');

# a pending client's `all` is its pending ceiling (the token cached now)

my $tok = llmgw_token(scope => 'all', claims => { client_id => 'dcr-new' });
is(gw('dcr-new', $tok), '200 claude', 'pending: all cut to claude');

# no admin scope: refused, nothing changed

my ($s2, $c2, $r2) = call('PUT', '/clients/dcr-new',
                          llmgw_token(sub => 'u', scope => 'all'),
                          '{"status":"approved","ceiling":["text"]}');
is($s2, 403, 'no llmgw.admin: 403');
like($r2->{headers}{'www-authenticate'} // '',
     qr/error="insufficient_scope".*scope="llmgw.admin"/,
     'no llmgw.admin: the challenge names the scope');
($s2) = call('PUT', '/clients/dcr-new', undef, '{}');
is($s2, 401, 'no token: 401');
is(gw('dcr-new'), '200 claude', 'refused: still pending');

# malformed and invalid PUTs: 400, nothing changed

my @bad = (
    [ 'not json', '{"status":',
      'the body must be a JSON object' ],
    [ 'an unknown member',
      '{"status":"approved","ceiling":["text"],"owner":"x"}',
      'unknown member (status, ceiling, pending_ceiling)' ],
    [ 'ceiling not an array', '{"status":"approved","ceiling":"text"}',
      'status must be a string, ceiling an array, pending_ceiling an '
      . 'array or null' ],
    [ 'a status the file refuses', '{"status":"maybe","ceiling":["text"]}',
      'status: unknown status (approved or pending)' ],
    [ 'an empty ceiling', '{"status":"approved","ceiling":[]}',
      'ceiling: empty' ],
    [ 'a scope with a space', '{"status":"approved","ceiling":["text x"]}',
      'a scope must be a string without spaces, commas or control '
      . 'characters' ],
    [ 'a new line smuggled in a scope',
      '{"status":"approved","ceiling":["text\nevil,approved,all"]}',
      'a scope must be a string without spaces, commas or control '
      . 'characters' ],
    [ 'a scope the tree lacks', '{"status":"approved","ceiling":["image"]}',
      'scope not in "llmgw_scopes" "image"' ],
    [ 'status deleted', '{"status":"deleted","ceiling":["text"]}',
      'status: unknown status (approved or pending)' ],
);

for my $b (@bad) {
    my ($name, $body, $message) = @$b;
    ($s, $c) = admin('PUT', '/clients/dcr-new', $body);
    is("$s $c", "400 " . $json->encode({ error => { code => 'invalid_request',
                                                    message => $message } })
                . "\n", "bad PUT: $name: 400 with why");
}

is(slurp($file), $orig, 'bad PUTs: the file as it was');
is(gw('dcr-new'), '200 claude', 'bad PUTs: still pending');
is(listed(), '200 dcr-new:pending:file tool-b:pending:file '
             . 'web-chat:approved:file', 'bad PUTs: no record made');

# approve through PUT: 200, and the very next request gets the ceiling

($s, $c) = admin('PUT', '/clients/dcr-new',
                 '{"status":"approved","ceiling":["text","audio"],'
                 . '"pending_ceiling":["claude"]}');
my $t0 = time;
my $after = gw('dcr-new', $tok);
my $took = time - $t0;
is("$s $c", '200 {"client_id":"dcr-new","status":"approved",'
            . '"ceiling":["text","audio"],"pending_ceiling":["claude"],'
            . '"source":"admin"}' . "\n", 'PUT: 200 with the client');
is($after, '200 text audio',
   'PUT: the very next request gets the approved ceiling, with the token '
   . 'cached before');
diag(sprintf 'the next request after the PUT answered in %.1f ms',
     $took * 1000);
is(slurp($file), $orig, 'PUT: the clients file is not written');

# a new pending client without a pending ceiling: refused at once

($s) = admin('PUT', '/clients/mcp-tool',
             '{"status":"pending","ceiling":["audio"],"pending_ceiling":null}');
is($s, 200, 'PUT a new client: 200');
is(gw('mcp-tool'), '403 ',
   'a pending client without a pending ceiling: refused');
is(listed(), '200 dcr-new:approved:admin tool-b:pending:file '
             . 'web-chat:approved:file mcp-tool:pending:admin',
   'list: the file\'s clients with the records over them, then the '
   . 'records\' own');

# DELETE a client of the file: unknown= applies; PUT brings it back

is(gw('web-chat'), '200 text', 'web-chat: from the file');
($s, $c) = admin('DELETE', '/clients/web-chat');
is("$s $c", '200 {"client_id":"web-chat","deleted":true}' . "\n",
   'DELETE: 200');
is(gw('web-chat'), '403 ', 'DELETE: its tokens refused at once '
                           . '(unknown=deny)');
($s) = admin('GET', '/clients/web-chat');
is($s, 404, 'DELETE: GET 404');
($s) = admin('DELETE', '/clients/web-chat');
is($s, 404, 'DELETE again: 404');
($s) = admin('POST', '/clients/web-chat/approve');
is($s, 404, 'approve a deleted client: 404');
is(listed(), '200 dcr-new:approved:admin tool-b:pending:file '
             . 'mcp-tool:pending:admin', 'DELETE: left out of the list');

($s) = admin('PUT', '/clients/web-chat',
             '{"status":"approved","ceiling":["text"]}');
is($s, 200, 'PUT a deleted client: 200');
is(gw('web-chat'), '200 text', 'PUT: it is back');

# approve: of a record, of a client only in the file, of none

($s) = admin('POST', '/clients/mcp-tool/approve');
is($s, 200, 'approve: 200');
is(gw('mcp-tool'), '200 audio', 'approve: the client gets its ceiling');

($s, $c) = admin('POST', '/clients/tool-b/approve');
is("$s $c", '200 {"client_id":"tool-b","status":"approved",'
            . '"ceiling":["audio"],"pending_ceiling":[],"source":"admin"}'
            . "\n", 'approve a client of the file: a record with its '
                    . 'ceilings');
is(gw('tool-b'), '200 audio', 'approve a client of the file: applied');

($s) = admin('POST', '/clients/nobody/approve');
is($s, 404, 'approve an unknown client: 404');

# a record for web-chat deleted again, then a restart: the journal

($s) = admin('DELETE', '/clients/web-chat');
is($s, 200, 'DELETE web-chat again');

nginx_stop($pid);
$pid = nginx_start($dir, $port) or BAIL_OUT('nginx did not restart');

is(gw('dcr-new'), '200 text audio', 'restart: the approval kept');
is(gw('web-chat'), '403 ', 'restart: the deletion kept');
is(gw('mcp-tool'), '200 audio', 'restart: a new client kept');
is(listed(), '200 dcr-new:approved:admin tool-b:approved:admin '
             . 'mcp-tool:approved:admin', 'restart: the list');
like(slurp("$dir/state.json"),
     qr/\Q{"registered_client":"web-chat","status":"deleted"\E/,
     'restart: the state file has the records');

# a reload whose tree lacks `audio`: records naming it lose it

($s) = admin('PUT', '/clients/lab',
             '{"status":"approved","ceiling":["audio","text"]}');
is($s, 200, 'PUT lab with audio and text');
is(gw('lab'), '200 audio text', 'lab: both, in the record\'s order');

write_file($file, <<'_EOF_');
client_id,status,ceiling,pending_ceiling
web-chat,approved,text,
_EOF_

conf(<<'_EOT_');
        all     text;
        text    claude openai.text;
_EOT_

kill 'HUP', $pid;

my $got;
for (1 .. 100) {
    $got = gw('lab');
    last if $got eq '200 text';
    sleep 0.05;
}
is($got, '200 text', 'reload: the scope the tree lost is dropped');
is(gw('mcp-tool'), '403 ', 'reload: a record left with no scope is '
                           . 'refused');
my $dropped = quotemeta('llmgw client "lab": scope "audio" of its record '
                        . 'is not in "llmgw_scopes", dropped from its '
                        . 'ceiling');
like(slurp("$dir/logs/error.log"), qr/\[warn\].*$dropped/,
     'reload: the dropped scope logged');
is(gw('web-chat'), '403 ', 'reload: the record still hides the file\'s '
                           . 'line');

# the audit's admin objects

my @all;
for (1 .. 50) {
    @all = map { $json->decode($_) } grep { length }
           split /\n/, (slurp($audit) // '');
    last if grep { $_->{path} eq '/admin/clients/lab' } @all;
    sleep 0.05;
}

my ($put) = grep { $_->{method} eq 'PUT' && $_->{status} == 200
                   && $_->{path} eq '/admin/clients/dcr-new' } @all;
is_deeply($put->{admin},
          { action => 'client.set', target => 'dcr-new', result => 'allowed',
            before => { client_id => 'dcr-new', status => 'pending',
                        ceiling => [ 'text', 'audio' ],
                        pending_ceiling => [ 'claude' ], source => 'file' },
            after => { client_id => 'dcr-new', status => 'approved',
                       ceiling => [ 'text', 'audio' ],
                       pending_ceiling => [ 'claude' ],
                       source => 'admin' } },
          'audit: PUT before (the file\'s) and after (the record)');

my ($new) = grep { $_->{path} eq '/admin/clients/mcp-tool'
                   && $_->{method} eq 'PUT' } @all;
is_deeply($new->{admin},
          { action => 'client.set', target => 'mcp-tool',
            result => 'allowed', before => undef,
            after => { client_id => 'mcp-tool', status => 'pending',
                       ceiling => [ 'audio' ], pending_ceiling => [],
                       source => 'admin' } },
          'audit: a new client has no before');

my ($del) = grep { $_->{method} eq 'DELETE' && $_->{status} == 200 } @all;
is_deeply($del->{admin},
          { action => 'client.delete', target => 'web-chat',
            result => 'allowed',
            before => { client_id => 'web-chat', status => 'approved',
                        ceiling => [ 'text' ], pending_ceiling => [],
                        source => 'file' },
            after => undef },
          'audit: DELETE has no after');

my ($app) = grep { $_->{path} eq '/admin/clients/mcp-tool/approve'
                   && $_->{status} == 200 } @all;
is_deeply([ $app->{admin}{action}, $app->{admin}{before}{status},
            $app->{admin}{after}{status} ],
          [ 'client.approve', 'pending', 'approved' ],
          'audit: approve from pending to approved');

my ($bad) = grep { $_->{method} eq 'PUT' && $_->{status} == 400 } @all;
is_deeply($bad->{admin},
          { action => 'client.set', target => 'dcr-new', result => 'allowed',
            before => undef, after => undef },
          'audit: a bad PUT changes nothing');

my ($ref) = grep { $_->{method} eq 'PUT' && $_->{status} == 403 } @all;
is_deeply($ref->{admin},
          { action => 'client.set', target => 'dcr-new', result => 'refused',
            before => undef, after => undef },
          'audit: refused without the admin scope');

my ($gone) = grep { $_->{method} eq 'DELETE' && $_->{status} == 404 } @all;
is_deeply($gone->{admin},
          { action => 'client.delete', target => 'web-chat',
            result => 'allowed', before => undef, after => undef },
          'audit: a DELETE of a deleted client changes nothing');

nginx_stop($pid);

diag(join '', grep { /\[(?:error|alert|emerg)\]|llmgw_admin/ }
              split /^/, slurp("$dir/logs/error.log") // '')
    unless Test::More->builder->is_passing;

done_testing();
