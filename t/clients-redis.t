# Registered clients across nodes: two nginx with the same llmgw_clients
# file on one redis-server of this suite's own (llmgw_state_redis).  A
# client approved through node A's admin API (PUT /admin/clients/{id})
# gets its approved ceiling on node B within 1 s; a file's client deleted
# on A is refused on B (unknown=deny) within 1 s, and put back; the
# approve endpoint's record reaches B; B's GET /admin/clients shows the
# records with source "admin"; a third node started afterwards gets every
# record, the deletion too, from the snapshot (a full resync only adds
# and replaces: the deletion is a record, not a removal).  Plain
# Test::More: processes started and stopped.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use HTTP::Tiny;
use File::Temp ();
use Time::HiRes qw(time sleep);
use LLMGW::Test qw(:all);
use LLMGW::Nginx qw(:DEFAULT slurp);
use LLMGW::Redis qw(redis_start redis_stop);
use LLMGW::Admin qw(node_admin);
use JSON::PP;

plan skip_all => 'TEST_NGINX_LOAD_MODULES is not set (t/run-tests.sh sets it)'
    unless $ENV{TEST_NGINX_LOAD_MODULES};
plan skip_all => 'redis-server is not installed'
    unless grep { -x "$_/redis-server" } split /:/, $ENV{PATH};

my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 0);
my $json = JSON::PP->new->utf8->canonical;
my $keys = llmgw_keys_dir();
my $stream = 'llmgw:clients';

my $rdir = File::Temp::tempdir('llmgw-redis-XXXXXX', TMPDIR => 1,
                               CLEANUP => 1);
my $clients = "$rdir/clients.csv";

open my $fh, '>', $clients or die "$clients: $!";
print $fh <<'_EOF_';
client_id,status,ceiling,pending_ceiling
dcr-new,pending,text audio,claude
tool-b,pending,audio,
web-chat,approved,text,
_EOF_
close $fh;
chmod 0755, $rdir;
chmod 0644, $clients;

sub gateway {
    my ($redis) = @_;

    my $conf = sub {
        my ($dir, $port) = @_;

        return <<"_EOC_";
    llmgw_redis $redis backoff=50ms:200ms;
    llmgw_state_zone state:1m;
    llmgw_state_redis stream=$stream poll=50ms resync=off stale=3s;
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;

    llmgw_scopes {
        all     text audio;
        text    claude openai.text;
        audio   openai.stt;
        admin   llmgw.admin;
    }

    llmgw_clients $clients unknown=deny;

    server {
        listen 127.0.0.1:$port;

        llmgw_jwt_keys $keys/jwks.json;

        location = /t {
            llmgw_auth jwt;
            llmgw_state off;
            add_header X-Scopes "\$llmgw_scopes" always;
            alias $dir/html/ok.txt;
        }

        location /admin/ {
            llmgw_auth jwt;
            llmgw_client_ceiling off;
            llmgw_require_scope llmgw.admin;
            llmgw_state off;
            llmgw_admin;
        }
    }
_EOC_
    };

    return nginx_node($conf, workers => 2)
           // BAIL_OUT('nginx did not start');
}

my %tokens;

# the client's token with `all` on $node: "status X-Scopes"
sub gw {
    my ($node, $client) = @_;
    my $t = $tokens{$client} //= llmgw_token(scope => 'all',
                                             claims => {
                                                 client_id => $client });
    my $r = $http->get("http://127.0.0.1:$node->{port}/t",
                       { headers => { Authorization => "Bearer $t" } });
    return "$r->{status} " . ($r->{headers}{'x-scopes'} // '');
}

# the time until gw() on $node says $want, at most 5 s: (said, seconds)
sub gw_within {
    my ($node, $client, $want) = @_;
    my $t0 = time;
    my $ok = wait_for(5, sub { gw($node, $client) eq $want }, 0.01);
    return ($ok ? $want : gw($node, $client), time - $t0);
}

# the list on $node: "id:status:source ..."
sub listed {
    my ($node) = @_;
    my ($s, $c) = split / /, node_admin($node, 'GET', 'clients'), 2;
    return "$s " . join ' ', map { "$_->{client_id}:$_->{status}:$_->{source}" }
                             @{ $json->decode($c)->{clients} };
}

my $r = redis_start(dir => $rdir);
my $na = gateway("127.0.0.1:$r->{port}");
my $nb = gateway("127.0.0.1:$r->{port}");

for my $n ([A => $na], [B => $nb]) {
    ok(wait_for(5, sub { slurp($n->[1]{log}) =~ /full resync .* done/ }),
       "node $n->[0]: a worker read the snapshot at start");
}

for my $c ('dcr-new', 'tool-b', 'web-chat') {
    gw($na, $c);    # the tokens minted before anything is timed
}

is(gw($nb, 'dcr-new'), '200 claude', 'B: the file\'s pending client');

# a PUT on A: B applies it within 1 s

my @took;

is(node_admin($na, 'PUT', 'clients/dcr-new',
         '{"status":"approved","ceiling":["text","audio"]}'),
   '200 {"client_id":"dcr-new","status":"approved","ceiling":["text",'
   . '"audio"],"pending_ceiling":[],"source":"admin"}' . "\n",
   'A: PUT approves');
my ($got, $secs) = gw_within($nb, 'dcr-new', '200 text audio');
is($got, '200 text audio', 'B: the approved ceiling');
ok($secs < 1, sprintf('B: within 1 s (%.0f ms)', $secs * 1000));
push @took, $secs;

# DELETE of a file's client on A: B refuses it within 1 s

is(gw($nb, 'web-chat'), '200 text', 'B: web-chat from the file');
is(node_admin($na, 'DELETE', 'clients/web-chat'),
   '200 {"client_id":"web-chat","deleted":true}' . "\n", 'A: DELETE');
($got, $secs) = gw_within($nb, 'web-chat', '403 ');
is($got, '403 ', 'B: the deleted client refused (unknown=deny)');
ok($secs < 1, sprintf('B: within 1 s (%.0f ms)', $secs * 1000));
push @took, $secs;

# the approve endpoint on A, of a client only in the file

like(node_admin($na, 'POST', 'clients/tool-b/approve'), qr/^200 /,
     'A: approve tool-b');
($got, $secs) = gw_within($nb, 'tool-b', '200 audio');
is($got, '200 audio', 'B: tool-b approved');
ok($secs < 1, sprintf('B: within 1 s (%.0f ms)', $secs * 1000));
push @took, $secs;

is(listed($nb), '200 dcr-new:approved:admin tool-b:approved:admin',
   'B: the list, records from A\'s changes');

# a node started now reads every record from the snapshot

my $nc = gateway("127.0.0.1:$r->{port}");
ok(wait_for(5, sub { slurp($nc->{log}) =~ /full resync .* done/ }),
   'node C: a worker read the snapshot at start');
is(gw($nc, 'web-chat'), '403 ', 'C: the deletion from the snapshot');
is(gw($nc, 'dcr-new'), '200 text audio', 'C: the approval from the snapshot');

# PUT back on B: A and C get it

like(node_admin($nb, 'PUT', 'clients/web-chat',
           '{"status":"approved","ceiling":["text"]}'), qr/^200 /,
     'B: PUT web-chat back');
($got, $secs) = gw_within($na, 'web-chat', '200 text');
is($got, '200 text', 'A: web-chat back');
ok($secs < 1, sprintf('A: within 1 s (%.0f ms)', $secs * 1000));
push @took, $secs;
is((gw_within($nc, 'web-chat', '200 text'))[0], '200 text', 'C: web-chat back');

diag(sprintf 'propagation, PUT or DELETE on one node to the answer on '
     . 'another: %s ms', join ', ', map { sprintf '%.0f', $_ * 1000 } @took);

for my $n ($na, $nb, $nc) {
    unlike(slurp($n->{log}), qr/\[(?:alert|crit|emerg)\]/,
           "node on port $n->{port}: no alert");
    nginx_stop($n->{pid});
}

redis_stop($r);

done_testing();
