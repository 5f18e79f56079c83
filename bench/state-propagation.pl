#!/usr/bin/perl

# Propagation of a revocation between two nodes (llmgw_state_redis):
# node A and node B, two workers each, on one redis-server of this
# script's own, with the defaults (poll=100ms).  Each trial revokes one
# token's jti through A's admin API (POST /admin/tokens/revoke, with a
# token granting llmgw.admin) and asks B with that token until B answers
# 401; the time from sending the revocation to B's first 401 is the
# trial's.  The revocation is then lifted (POST /admin/tokens/unrevoke)
# and B seen to accept the token again before the next trial.  Prints
# p50, p99 and the worst, in ms.
#
#   bench/state-propagation.pl NGINX MODULE [TRIALS]     (make bench-state)

use strict;
use warnings;

use FindBin;
BEGIN { unshift @INC, "$FindBin::Bin/../t/lib" }

use HTTP::Tiny;
use File::Temp ();
use Time::HiRes qw(time sleep);

my ($nginx, $module, $trials) = @ARGV;

die "usage: $0 NGINX MODULE [TRIALS]\n" unless $nginx && $module;
$trials //= 100;

$ENV{TEST_NGINX_BINARY} = $nginx;
$ENV{TEST_NGINX_LOAD_MODULES} = $module;
$ENV{TMPDIR} //= '/tmp';

require LLMGW::Nginx;
require LLMGW::Test;
require LLMGW::Redis;
LLMGW::Nginx->import;
LLMGW::Test->import(qw(llmgw_keys_dir llmgw_token));
LLMGW::Redis->import(qw(redis_start redis_stop));

my $http = HTTP::Tiny->new(timeout => 5, keep_alive => 1);
my $keys = llmgw_keys_dir();
my $r = redis_start();
my @nodes;

for my $name (qw(A B)) {
    my $dir = nginx_prefix();
    my $port = free_port();

    open my $fh, '>', "$dir/html/ok.txt" or die;
    print $fh "ok\n";
    close $fh;

    nginx_conf($dir, <<"_EOC_", workers => 2);
    llmgw_redis 127.0.0.1:$r->{port};
    llmgw_state_zone state:1m;
    llmgw_state_redis stream=llmgw:bench;
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;
    llmgw_token_cache_zone tokens:1m;

    llmgw_scopes {
        all     text;
        admin   llmgw.admin;
    }

    server {
        listen 127.0.0.1:$port;

        location = /t {
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            alias $dir/html/ok.txt;
        }

        location /admin/ {
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            llmgw_require_scope llmgw.admin;
            llmgw_state off;
            llmgw_admin;
        }
    }
_EOC_

    my $pid = nginx_start($dir, $port) or die "node $name did not start\n";
    push @nodes, { name => $name, pid => $pid, port => $port };
}

my ($na, $nb) = @nodes;
my $jti = 'bench-' . $$;
my $token = llmgw_token(sub => 'bench', jti => $jti, exp => 3600);
my $admin = llmgw_token(sub => 'ops', scope => 'llmgw.admin');
my $exp = int(time) + 3600;

sub status {
    my ($node) = @_;
    return $http->get("http://127.0.0.1:$node->{port}/t",
                      { headers => { Authorization => "Bearer $token" } })
           ->{status};
}

# POST /admin/tokens/$what on A with the JSON $body
sub publish {
    my ($what, $body) = @_;
    my $res = $http->post("http://127.0.0.1:$na->{port}/admin/tokens/$what",
                          { headers => { Authorization => "Bearer $admin" },
                            content => $body });
    die "$what: $res->{status} $res->{content}" unless $res->{status} == 200;
}

# waits for B's answer to be $want; the seconds it took, or undef
sub until_b {
    my ($want, $t0) = @_;

    while (time - $t0 < 5) {
        return time - $t0 if status($nb) == $want;
    }

    return undef;
}

# the first full resync done on both before the first trial
sleep 1;
die "B does not accept the token\n" unless defined until_b(200, time);

my @ms;

for my $i (1 .. $trials) {
    my $t0 = time;
    publish('revoke', qq({"jti":"$jti","exp":$exp}));
    my $dt = until_b(401, $t0);
    die "trial $i: B did not refuse within 5 s\n" unless defined $dt;
    push @ms, $dt * 1000;

    publish('unrevoke', qq({"jti":"$jti"}));
    die "trial $i: B did not accept again\n"
        unless defined until_b(200, time);

    # trials spread over the poll interval
    sleep rand(0.1);
}

nginx_stop($_->{pid}) for @nodes;
redis_stop($r);

@ms = sort { $a <=> $b } @ms;

sub pct {
    my ($p) = @_;
    return $ms[int($p / 100 * $#ms + 0.5)];
}

printf "state propagation A -> B (poll=100ms, %d trials): "
       . "p50 %.0f ms, p99 %.0f ms, max %.0f ms\n",
       scalar @ms, pct(50), pct(99), $ms[-1];
