# Admin calls that read an entry and write it back lose no concurrent
# change: four workers, one account and one registered client.  Users:
# three processes disable and enable E1 without pause while one uploads
# the HR CSV N times, each time moving E1 to a new department; every
# upload must move E1 from the department of the upload before it (a
# disable or enable that read the entry before an upload and wrote it
# after would put the old department back), and at the end E1 has the
# last upload's department and the last flag.  Clients: three processes
# approve one client (the status set, the ceilings kept) while one PUTs
# it N times with another ceiling; after each PUT the client has that
# PUT's ceiling, and at the end the last ceiling and approved.  No call
# fails (none answers 409 under this load).  The audit's befores are
# true: the processes revoke one jti, each time until another exp, and
# the lines' befores and afters make one chain.  Plain Test::More.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time sleep);
use LLMGW::Test qw(:all);
use LLMGW::Nginx;

plan skip_all => 'TEST_NGINX_LOAD_MODULES is not set'
    unless $ENV{TEST_NGINX_LOAD_MODULES};

my $N = 50;             # uploads, PUTs
my $P = 3;              # processes making the conflicting calls
my $WORKERS = 4;

my $keys = llmgw_keys_dir();
my $dir = nginx_prefix();
my $port = free_port();
my $audit = "$dir/logs/audit.log";
my $json = JSON::PP->new->utf8->canonical;
my $stop = "$dir/stop";

open my $fh, '>', "$dir/clients.csv" or die $!;
print $fh "client_id,status,ceiling,pending_ceiling\n"
          . "app,pending,text,\n";
close $fh;

# reuseport: each connection to a worker of its own hash, so that the
# keep-alive connections of the processes meet in different workers

nginx_conf($dir, <<"_EOC_", workers => $WORKERS);
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;

    llmgw_scopes {
        all     text audio;
        text    claude openai.text;
        audio   openai.stt;
        admin   llmgw.admin;
    }

    llmgw_state_zone state:1m;
    llmgw_state_file $dir/state.json;
    llmgw_clients $dir/clients.csv unknown=deny;

    server {
        listen 127.0.0.1:$port reuseport;

        llmgw_jwt_keys $keys/jwks.json;

        location /admin/ {
            llmgw_auth jwt;
            llmgw_require_scope llmgw.admin;
            llmgw_client_ceiling off;
            llmgw_state off;
            llmgw_audit $audit;
            llmgw_admin;
        }
    }
_EOC_

my $pid = nginx_start($dir, $port) or BAIL_OUT('nginx did not start');

my $admin = llmgw_token(sub => 'ops', scope => 'llmgw.admin');
my $U = "http://127.0.0.1:$port/admin";

sub admin {
    my ($http, $method, $path, $body) = @_;
    my $r = $http->request($method, "$U$path",
                           { headers => { Authorization => "Bearer $admin" },
                             defined $body ? (content => $body) : () });
    return ($r->{status}, $r->{content});
}

sub csv {
    my ($dept) = @_;
    return "user_id,name,email,department,job_title,phone,start_date,"
           . "end_date,status\n"
           . "E1,Ann,ann\@example.com,$dept,,,2020-04-01,,active\n";
}

# $P processes calling calls->($http, $k, $p) until the stop file exists
# (at least once each), then last->($http, $p): their pids.  Each exits
# with the number of calls not answered 200 (at most 255).

sub hammer {
    my ($calls, $last) = @_;
    my @pids;

    unlink $stop;

    for my $p (1 .. $P) {
        my $child = fork() // die "fork: $!";

        if ($child == 0) {
            my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 1);
            my ($bad, $k) = (0, 0);

            do {
                my ($s) = $calls->($http, $k++, $p);
                $bad++ if $s != 200;
            } until -e $stop;

            my ($s) = $last->($http, $p);
            $bad++ if $s != 200;

            POSIX::_exit($bad > 255 ? 255 : $bad);
        }

        push @pids, $child;
    }

    return @pids;
}

# stops the processes: how many of their calls were not answered 200

sub halt {
    my $bad = 0;

    open my $f, '>', $stop or die $!;
    close $f;

    for (@_) {
        waitpid $_, 0;
        $bad += $? >> 8;
    }

    return $bad;
}

my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 1);

# 1. users: disable and enable against the CSV's department moves

my ($s, $c) = admin($http, 'POST', '/users/csv/upload', csv('d0'));
is($s, 200, 'users: the first upload');

my @pids = hammer(sub {
                      my ($h, $k) = @_;
                      admin($h, 'PUT', $k % 2 ? '/users/E1/enable'
                                              : '/users/E1/disable');
                  },
                  sub { admin($_[0], 'PUT', '/users/E1/disable') });

my @wrong;

for my $i (1 .. $N) {
    ($s, $c) = admin($http, 'POST', '/users/csv/upload', csv("d$i"));
    my $moved = $s == 200 ? $json->encode($json->decode($c)->{moved}) : '';
    my $want = qq([{"from":"d) . ($i - 1) . qq(","to":"d$i",)
               . qq("user_id":"E1"}]);

    push @wrong, "upload $i: $s $moved" if $moved ne $want;
}

my $bad = halt(@pids);

is(scalar @wrong, 0,
   "users: each of $N uploads moved E1 from the department before it")
    or diag(join "\n", @wrong[0 .. ($#wrong < 4 ? $#wrong : 4)]);
is($bad, 0, 'users: every disable and enable answered 200');

($s, $c) = admin($http, 'GET', '/users/E1');
my $e1 = $json->decode($c);
is("$s $e1->{department} " . ($e1->{active} ? 'active' : 'disabled'),
   "200 d$N disabled",
   'users: E1 has the last department and the last flag');

# 2. clients: approve against PUT with another ceiling

my @ceilings = ('text', 'audio', 'claude', 'openai.text', 'openai.stt');

@pids = hammer(sub { admin($_[0], 'POST', '/clients/app/approve') },
               sub { admin($_[0], 'POST', '/clients/app/approve') });

@wrong = ();

for my $i (1 .. $N) {
    my $want = $ceilings[$i % @ceilings];

    ($s) = admin($http, 'PUT', '/clients/app',
                 qq({"status":"pending","ceiling":["$want"]}));

    # the next PUT replaces the ceiling: look before it
    ($s, $c) = admin($http, 'GET', '/clients/app') if $s == 200;
    my $got = $s == 200 ? join(' ', @{ $json->decode($c)->{ceiling} }) : '';

    push @wrong, "PUT $i: $s '$got', not '$want'" if $got ne $want;
}

$bad = halt(@pids);

is(scalar @wrong, 0, "clients: after each of $N PUTs, its ceiling")
    or diag(join "\n", @wrong[0 .. ($#wrong < 4 ? $#wrong : 4)]);
is($bad, 0, 'clients: every approve answered 200');

($s, $c) = admin($http, 'GET', '/clients/app');
my $app = $json->decode($c);
is("$s $app->{status} @{ $app->{ceiling} }",
   "200 approved $ceilings[$N % @ceilings]",
   'clients: the last ceiling, approved');

# 3. the audit's before is the entry the change was made over: the
# processes revoke one jti again and again, each time until another exp
# (unique); the lines' befores and afters must make one chain from none
# to the last.  Two calls that both read exp X and both log it as their
# before (one of them wrote over the other's exp) fork the chain.

my $exp = int(time) + 86400;

@pids = hammer(sub {
                   my ($h, $k, $p) = @_;
                   admin($h, 'POST', '/tokens/revoke',
                         qq({"jti":"rmw-1","exp":)
                         . ($exp + $p * 1000000 + $k) . '}');
               },
               sub {
                   my ($h, $p) = @_;
                   admin($h, 'POST', '/tokens/revoke',
                         qq({"jti":"rmw-1","exp":)
                         . ($exp + $p * 1000000 + 999999) . '}');
               });

# as long as the uploads took, about
my $until = time + 3;
sleep 0.1 while time < $until;

$bad = halt(@pids);
is($bad, 0, 'audit: every revocation answered 200');

my (%next, @forks);

open my $a, '<', $audit or die "$audit: $!";
while (<$a>) {
    my $l = $json->decode($_)->{admin} or next;
    next unless $l->{action} eq 'tokens.revoke' && $l->{result} eq 'allowed';
    my $from = $l->{before} ? $l->{before}{exp} : 'none';
    push @forks, $from if exists $next{$from};
    $next{$from} = $l->{after}{exp};
}
close $a;

my ($at, $chain) = ('none', 0);
while (exists $next{$at} && $chain <= keys %next) {
    $at = $next{$at};
    $chain++;
}

ok(keys %next > $N, 'audit: ' . (keys %next) . ' revocations');
is("@forks", '', 'audit: no two revocations made over one before');
is($chain, scalar keys %next, 'audit: one chain from none through them all');

# how often a call read again (info lines): conflicts that, without the
# compare-and-set, would have lost a change or logged an untrue before

my %again;
open my $e, '<', "$dir/logs/error.log" or die $!;
while (<$e>) {
    $again{$1}++ if /llmgw admin (\S+): the entry changed between/;
}
close $e;
diag(join ', ', map { "$_ read again $again{$_} times" } sort keys %again)
    if %again;

nginx_stop($pid);

done_testing();
