# Registered clients (llmgw_clients) managed through the admin API: the
# list and one client; a pending client's token with `all` gets its
# pending ceiling; PUT approves it, the file is written and the master
# reloads, after which the same token gets the approved ceiling; the
# approve and delete endpoints; a change while an earlier one waits for
# its reload is refused (409); malformed and invalid PUTs change nothing
# (400, the file byte for byte); a token without the admin scope is
# refused; the admin object of the audit lines.  Plain Test::More: one
# nginx whose clients every change rewrites, in order.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use LLMGW::Test qw(:all);
use LLMGW::Nginx;

plan skip_all => 'TEST_NGINX_LOAD_MODULES is not set'
    unless $ENV{TEST_NGINX_LOAD_MODULES};

my $keys = llmgw_keys_dir();
my $dir = nginx_prefix();
my $port = free_port();
my $audit = "$dir/logs/audit.log";
my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 0);
my $json = JSON::PP->new->utf8->canonical;

# the workers rewrite the clients file: a directory they may write
mkdir "$dir/clients";
chmod 0777, "$dir/clients";
my $file = "$dir/clients/clients.csv";

open my $fh, '>', $file or die "$file: $!";
print $fh <<'_EOF_';
client_id,status,ceiling,pending_ceiling
dcr-new,pending,text audio,claude
web-chat,approved,text,
_EOF_
close $fh;
chmod 0666, $file;

nginx_conf($dir, <<"_EOC_",
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;

    llmgw_scopes {
        all     text audio;
        text    claude openai.text;
        audio   openai.stt;
        admin   llmgw.admin;
    }

    llmgw_clients $file unknown=deny;

    server {
        listen 127.0.0.1:$port;

        llmgw_jwt_keys $keys/jwks.json;

        location /admin/ {
            llmgw_auth jwt;
            llmgw_client_ceiling off;
            llmgw_require_scope llmgw.admin;
            llmgw_audit $audit;
            client_max_body_size 8k;
            client_body_buffer_size 4k;
            llmgw_admin;
        }

        location = /t {
            llmgw_auth jwt;
            add_header X-Scopes "\$llmgw_scopes" always;
            alias $dir/html/ok.txt;
        }
    }
_EOC_
    # a worker may signal its master only as the master's user: run as
    # root, the workers must be root too (else the answer says reload
    # false and nginx must be reloaded by hand: README)
    $> == 0 ? (main => 'user root;') : ());

mkdir "$dir/html";
open my $ok, '>', "$dir/html/ok.txt" or die $!;
print $ok "ok\n";
close $ok;

my $pid = nginx_start($dir, $port) or BAIL_OUT('nginx did not start');

my $admin = llmgw_token(sub => 'ops', scope => 'llmgw.admin');
my $U = "http://127.0.0.1:$port/admin";

sub call {
    my ($method, $path, $token, $body) = @_;
    my %h;
    $h{Authorization} = "Bearer $token" if $token;
    my $r = $http->request($method, "$U$path",
                           { headers => \%h,
                             defined $body ? (content => $body) : () });
    return ($r->{status}, $r->{content}, $r);
}

sub admin {
    my ($method, $path, $body) = @_;
    return call($method, $path, $admin, $body);
}

sub slurp {
    open my $f, '<:raw', $_[0] or return undef;
    local $/;
    return scalar <$f>;
}

# a token of client with `all`: "status X-Scopes"
sub gw {
    my ($client) = @_;
    my $t = llmgw_token(scope => 'all', claims => { client_id => $client });
    my $r = $http->get("http://127.0.0.1:$port/t",
                       { headers => { Authorization => "Bearer $t" } });
    return "$r->{status} " . ($r->{headers}{'x-scopes'} // '');
}

# what gw() says once it says $want, within 5 s (the reload)
sub gw_within {
    my ($client, $want) = @_;
    my $got;
    for (1 .. 50) {
        $got = gw($client);
        return $got if $got eq $want;
        select(undef, undef, undef, 0.1);
    }
    return $got;
}

# GET /clients once the configuration in effect has $n clients
sub clients_within {
    my ($n) = @_;
    my ($s, $c);
    for (1 .. 50) {
        ($s, $c) = admin('GET', '/clients');
        last if $s == 200 && @{ $json->decode($c)->{clients} } == $n;
        select(undef, undef, undef, 0.1);
    }
    return ($s, $c);
}

my $orig = slurp($file);

# the clients of the configuration

my ($s, $c) = admin('GET', '/clients');
is($s, 200, 'list: 200');
is_deeply($json->decode($c),
          { clients => [
              { client_id => 'dcr-new', status => 'pending',
                ceiling => [ 'text', 'audio' ],
                pending_ceiling => [ 'claude' ] },
              { client_id => 'web-chat', status => 'approved',
                ceiling => [ 'text' ], pending_ceiling => [] } ] },
          'list: the file\'s clients, sorted');

($s, $c) = admin('GET', '/clients/web-chat');
is("$s $c", '200 {"client_id":"web-chat","status":"approved",'
            . '"ceiling":["text"],"pending_ceiling":[]}' . "\n",
   'get: one client');

($s, $c) = admin('GET', '/clients/nobody');
is("$s $c", '404 {"error":{"code":"not_found","message":"no such client"}}'
            . "\n", 'get: an unknown client 404');

# a pending client's `all` is its pending ceiling

is(gw('dcr-new'), '200 claude', 'pending: all cut to claude');

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
is(slurp($file), $orig, 'refused: the file as it was');

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

# approve through PUT: 202, the file written, the reload applies it

($s, $c) = admin('PUT', '/clients/dcr-new',
                 '{"status":"approved","ceiling":["text","audio"],'
                 . '"pending_ceiling":["claude"]}');
is($s, 202, 'PUT: 202');
is_deeply($json->decode($c),
          { client_id => 'dcr-new',
            client => { client_id => 'dcr-new', status => 'approved',
                        ceiling => [ 'text', 'audio' ],
                        pending_ceiling => [ 'claude' ] },
            reload => JSON::PP::true,
            message => 'written to the clients file; the reload asked for '
                       . 'applies it within a moment' },
          'PUT: the change, and that the reload applies it');
is(slurp($file), "client_id,status,ceiling,pending_ceiling\n"
                 . "dcr-new,approved,text audio,claude\n"
                 . "web-chat,approved,text,\n", 'PUT: the file written');
is(gw_within('dcr-new', '200 text audio'), '200 text audio',
   'after the reload: the same token gets the approved ceiling');

# a new pending client, then the approve endpoint

($s) = admin('PUT', '/clients/mcp-tool',
             '{"status":"pending","ceiling":["audio"],"pending_ceiling":null}');
is($s, 202, 'PUT a new client: 202');
is(gw_within('mcp-tool', '403 '), '403 ',
   'a pending client without a pending ceiling: refused');
clients_within(3);

($s, $c) = admin('DELETE', '/clients/web-chat');
is($s, 202, 'DELETE: 202');
($s, $c) = clients_within(2);
is_deeply([ map { $_->{client_id} } @{ $json->decode($c)->{clients} } ],
          [ 'dcr-new', 'mcp-tool' ], 'DELETE: gone after the reload');
is(gw('web-chat'), '403 ', 'DELETE: its tokens refused (unknown=deny)');

($s) = admin('POST', '/clients/mcp-tool/approve');
is($s, 202, 'approve: 202');
is(gw_within('mcp-tool', '200 audio'), '200 audio',
   'approve: the client gets its ceiling');
is(slurp($file), "client_id,status,ceiling,pending_ceiling\n"
                 . "dcr-new,approved,text audio,claude\n"
                 . "mcp-tool,approved,audio,\n", 'approve: the file');

($s) = admin('POST', '/clients/nobody/approve');
is($s, 404, 'approve an unknown client: 404');

# a file changed behind the configuration's back: 409 until the reload

open $fh, '>', "$file.new" or die $!;
print $fh slurp($file);
close $fh;
rename "$file.new", $file or die $!;
my $before = slurp($file);

($s, $c, my $r) = admin('DELETE', '/clients/mcp-tool');
is("$s " . ($r->{headers}{'retry-after'} // '') . " $c",
   '409 1 {"error":{"code":"conflict","message":"an earlier change waits '
   . 'for its reload; retry in a moment"}}' . "\n",
   'a file newer than the configuration: 409 with Retry-After');
is(slurp($file), $before, '409: the file as it was');

# the audit's admin objects

my @all;
for (1 .. 50) {
    @all = map { $json->decode($_) } grep { length }
           split /\n/, (slurp($audit) // '');
    last if grep { $_->{status} == 409 } @all;
    select(undef, undef, undef, 0.05);
}

my ($put) = grep { $_->{method} eq 'PUT' && $_->{status} == 202
                   && $_->{path} eq '/admin/clients/dcr-new' } @all;
is_deeply($put->{admin},
          { action => 'client.set', target => 'dcr-new', result => 'allowed',
            before => { client_id => 'dcr-new', status => 'pending',
                        ceiling => [ 'text', 'audio' ],
                        pending_ceiling => [ 'claude' ] },
            after => { client_id => 'dcr-new', status => 'approved',
                       ceiling => [ 'text', 'audio' ],
                       pending_ceiling => [ 'claude' ] } },
          'audit: PUT before and after');

my ($new) = grep { $_->{path} eq '/admin/clients/mcp-tool'
                   && $_->{method} eq 'PUT' } @all;
is_deeply($new->{admin},
          { action => 'client.set', target => 'mcp-tool',
            result => 'allowed', before => undef,
            after => { client_id => 'mcp-tool', status => 'pending',
                       ceiling => [ 'audio' ], pending_ceiling => [] } },
          'audit: a new client has no before');

my ($del) = grep { $_->{method} eq 'DELETE' && $_->{status} == 202 } @all;
is_deeply($del->{admin},
          { action => 'client.delete', target => 'web-chat',
            result => 'allowed',
            before => { client_id => 'web-chat', status => 'approved',
                        ceiling => [ 'text' ], pending_ceiling => [] },
            after => undef },
          'audit: DELETE has no after');

my ($app) = grep { $_->{path} eq '/admin/clients/mcp-tool/approve'
                   && $_->{status} == 202 } @all;
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

my ($conf) = grep { $_->{status} == 409 } @all;
is_deeply($conf->{admin},
          { action => 'client.delete', target => 'mcp-tool',
            result => 'allowed', before => undef, after => undef },
          'audit: a 409 changes nothing');

nginx_stop($pid);

diag(join '', grep { /\[(?:error|alert|emerg)\]|llmgw_admin/ }
              split /^/, slurp("$dir/logs/error.log") // '')
    unless Test::More->builder->is_passing;

done_testing();
