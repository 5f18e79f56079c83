# Registered clients and resource metadata in the configuration: clients
# files nginx -t refuses, each wrong line named; a ceiling scope the tree
# lacks; parameters; a reload (HUP) that approves a pending client; the
# audit line's client_status and ceiling.  Plain Test::More: one nginx -t
# per case, a HUP between two requests, the audit file read back.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use LLMGW::Test;
use LLMGW::Nginx;

my $modules = $ENV{TEST_NGINX_LOAD_MODULES}
    or plan skip_all => 'TEST_NGINX_LOAD_MODULES is not set';
my $keys = llmgw_keys_dir();
my $dir = nginx_prefix();

my $TREE = <<'_EOC_';
    llmgw_scopes {
        all     text audio;
        text    claude openai.text;
        audio   openai.stt;
    }
_EOC_

my $H = "client_id,status,ceiling,pending_ceiling\n";

sub spew {
    my ($file, $s) = @_;
    open my $fh, '>:raw', $file or die "$file: $!";
    print $fh $s;
    close $fh;
}

sub check {
    my ($http) = @_;
    nginx_conf($dir, $http);
    return nginx_check($dir);
}

# what nginx -t said of the file, one "line ..." a line
sub said {
    my ($log, $file) = @_;
    my @l = $log =~ /^nginx:\ \[emerg\]\ llmgw_clients\ "\Q$file\E",
                     \ (line\ [^\n]*?)\ in\ \S+:\d+$/mgx;
    return join '', map { "$_\n" } @l;
}

# a file, and what nginx -t must say of it
my @bad = (
    [ 'bad header', "client_id,status,ceiling\n",
      "line 1: header must be \"client_id,status,ceiling,"
      . "pending_ceiling\"\n" ],
    [ 'bad lines',
      "# clients\n$H"
      . "web,approved,text,\n"
      . "web,approved,audio,\n"
      . "x y,approved,text,\n"
      . "app,granted,text,\n"
      . "app2,approved,,\n"
      . "app3,pending,text,claude,\n",
      "line 4: client_id: duplicate \"web\" (first on line 3)\n"
      . "line 5: client_id: invalid character \"x y\"\n"
      . "line 6: status: unknown status (approved or pending)\n"
      . "line 7: ceiling: empty\n"
      . "line 8: wrong number of columns (4)\n" ],
);

for my $b (@bad) {
    my ($what, $text, $expect) = @$b;
    my $file = "$dir/clients.csv";

    spew($file, $text);

    my ($ok, $log) = check("$TREE    llmgw_clients $file;\n");

    my $n = () = $expect =~ /\n/g;
    my $errors = $n == 1 ? '1 error' : "$n errors";

    ok(!$ok, "$what: nginx -t refuses the file");
    is(said($log, $file), $expect, "$what: names each line and error");
    like($log, qr/^nginx:\ \[emerg\]\ llmgw_clients\ "\Q$file\E"
                  \ refused:\ \Q$errors\E\ in\ /mx,
         "$what: then counts them: $errors");
}

spew("$dir/clients.csv", "$H# the scope below is not in the tree\n"
                         . "web,approved,text image,\n");
my ($ok, $log) = check("$TREE    llmgw_clients $dir/clients.csv;\n");
ok(!$ok, 'a ceiling scope the tree lacks: refused');
like($log, qr/llmgw_clients "\Q$dir\E\/clients\.csv", line 3: scope not in "llmgw_scopes" "image"/,
     'a ceiling scope the tree lacks: the line and the scope');

spew("$dir/clients.csv", "${H}web,approved,text,\n");

($ok, $log) = check("    llmgw_clients $dir/clients.csv;\n");
ok(!$ok, 'llmgw_clients without llmgw_scopes: refused');
like($log, qr/"llmgw_clients" needs "llmgw_scopes"/,
     'llmgw_clients without llmgw_scopes: says why');

($ok, $log) = check("$TREE    llmgw_clients $dir/clients.csv "
                    . "unknown=image;\n");
ok(!$ok, 'unknown= with a scope the tree lacks: refused');
like($log, qr/llmgw_clients: scope "image" is not in "llmgw_scopes"/,
     'unknown= with a scope the tree lacks: names it');

($ok, $log) = check("$TREE    llmgw_clients $dir/clients.csv "
                    . "default=text;\n");
ok(!$ok, 'an unknown parameter: refused');
like($log, qr/invalid parameter "default=text"/,
     'an unknown parameter: names it');

($ok, $log) = check("$TREE    llmgw_clients $dir/clients.csv "
                    . "unknown=text,,audio;\n");
ok(!$ok, 'an empty scope in unknown=: refused');

($ok, $log) = check("$TREE    llmgw_clients $dir/clients.csv;\n"
                    . "    llmgw_clients $dir/clients.csv;\n");
like($log, qr/"llmgw_clients" directive is duplicate/,
     'llmgw_clients twice: is duplicate');

($ok, $log) = check("$TREE    llmgw_clients $dir/clients.csv "
                    . "unknown=deny pending=claude,openai.stt;\n");
ok($ok, 'a good file and parameters: accepted') or diag($log);

($ok, $log) = check("server { listen 127.0.0.1:1; location = /m { "
                    . "llmgw_resource_metadata gw.example.com; } }");
ok(!$ok, 'a resource that is not a URL: refused');
like($log, qr/invalid resource "gw\.example\.com"/,
     'a resource that is not a URL: says why');

($ok, $log) = check("server { listen 127.0.0.1:1; location = /m { "
                    . "llmgw_resource_metadata https://gw.example.com/#x; "
                    . "} }");
ok(!$ok, 'a resource with a fragment: refused');

# a reload approves a pending client; the audit line says which ceiling

my $port = free_port();
my $audit = "$dir/logs/audit.log";

spew("$dir/clients.csv", "${H}dcr-1,pending,text audio,claude\n");
spew("$dir/html/ok.txt", "ok\n");

nginx_conf($dir, <<"_EOC_");
$TREE
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;
    llmgw_clients $dir/clients.csv;

    server {
        listen 127.0.0.1:$port;
        llmgw_audit $audit;
        llmgw_auth jwt;
        llmgw_jwt_keys $keys/jwks.json;

        location = /audio {
            llmgw_require_scope openai.stt;
            alias $dir/html/ok.txt;
        }
    }
_EOC_

my $pid = nginx_start($dir, $port) or BAIL_OUT('nginx did not start');
my $http = HTTP::Tiny->new(timeout => 5);
my $token = llmgw_token(scope => 'all', claims => { client_id => 'dcr-1' });

sub get {
    my $res = $http->get("http://127.0.0.1:$port/audio",
                         { headers => { Authorization => "Bearer $token" } });
    return $res->{status};
}

# the last audit line, once there are n (written after the response)
sub audit_line {
    my ($n) = @_;
    my @l;

    for (1 .. 50) {
        open my $fh, '<:raw', $audit or next;
        @l = <$fh>;
        close $fh;
        last if @l >= $n;
        select(undef, undef, undef, 0.1);
    }

    return @l >= $n ? JSON::PP->new->decode($l[$n - 1]) : {};
}

is(get(), 403, 'pending: the audio call is beyond its pending ceiling');

my $l = audit_line(1);
is($l->{client_status}, 'pending', 'audit: client_status pending');
is_deeply($l->{ceiling}, ['claude'], 'audit: the pending ceiling');
is_deeply($l->{scopes}, ['claude'], 'audit: the scopes granted, cut');
is($l->{client_id}, 'dcr-1', 'audit: the client');

spew("$dir/clients.csv", "${H}dcr-1,approved,text audio,claude\n");
kill 'HUP', $pid;

my $status = 0;

for (1 .. 50) {
    $status = get();
    last if $status == 200;
    select(undef, undef, undef, 0.1);
}

is($status, 200, 'after reload: approved, the audio call passes');

# the line of the request that passed: the last one
my @all;
for (1 .. 50) {
    open my $fh, '<:raw', $audit or die $!;
    @all = <$fh>;
    close $fh;
    last if @all && JSON::PP->new->decode($all[-1])->{status} == 200;
    select(undef, undef, undef, 0.1);
}

$l = JSON::PP->new->decode($all[-1]);
is($l->{client_status}, 'approved', 'audit: client_status approved');
is_deeply($l->{ceiling}, ['text', 'audio'], 'audit: the approved ceiling');
is_deeply($l->{scopes}, ['text', 'audio'], 'audit: all cut to text audio');

# a broken file on reload: the old configuration stays

spew("$dir/clients.csv", "${H}dcr-1,approved,text audio,claude,\n");
kill 'HUP', $pid;
# the master has read the file and given up once it says so (up to 10 s)
ok(wait_log(10, "$dir/logs/error.log", qr/\[emerg\]/, 1),
   'a broken file on reload: refused');

is(get(), 200, 'a broken file on reload: the running clients stay');

nginx_stop($pid);

done_testing();
