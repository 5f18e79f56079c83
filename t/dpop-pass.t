# DPoP through llmgw_pass: the proof (DPoP header) and the client's
# Authorization never reach the provider (the mock's record of each
# request, GET /__mock/requests), the provider's key is injected, and the
# audit line says the token was DPoP-bound ("token_binding":"dpop"); a
# bearer token's line has "token_binding":null.  Plain Test::More.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(sleep);
use LLMGW::Test qw(:all);
use LLMGW::Nginx;

for my $v (qw(TEST_NGINX_LOAD_MODULES TEST_NGINX_MOCK_PORT
              TEST_NGINX_MOCK_SECRETS))
{
    plan skip_all => "$v is not set (t/run-tests.sh sets it)"
        unless $ENV{$v};
}

my $keys = llmgw_keys_dir();
my $secrets = $ENV{TEST_NGINX_MOCK_SECRETS};
my $mock = "127.0.0.1:$ENV{TEST_NGINX_MOCK_PORT}";
my $dir = nginx_prefix();
my $port = free_port();
my $log = "$dir/logs/audit.log";

nginx_conf($dir, <<"_EOC_");
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;
    llmgw_dpop_zone llmgw_dpop:1m;

    server {
        listen 127.0.0.1:$port;

        llmgw_audit $log;

        location /azure/ {
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            llmgw_dpop optional;
            llmgw_provider azure_openai;
            llmgw_pass_strip_prefix /azure;
            llmgw_pass http://$mock;
            llmgw_pass_api_key file=$secrets/azure.key;
        }
    }
_EOC_

my $pid = nginx_start($dir, $port) or BAIL_OUT('nginx did not start');
my $http = HTTP::Tiny->new(timeout => 10);
my $json = JSON::PP->new->utf8;

my $CHAT = '{"messages":[{"role":"user","content":"hi"}]}';
my $PATH = '/azure/openai/deployments/gpt-4o/chat/completions';
my $QUERY = '?api-version=2024-10-21';

my $bound = llmgw_token(sub => 'alice', scope => 'text',
                        claims => { cnf => { jkt => llmgw_dpop_jkt('ec256') } });
my $bearer = llmgw_token(sub => 'bob', scope => 'text');

sub chat {
    my ($id, %h) = @_;
    return $http->request('POST', "http://127.0.0.1:$port$PATH$QUERY",
                          { headers => { 'Content-Type' => 'application/json',
                                         'X-Llmgw-Test-Id' => $id, %h },
                            content => $CHAT });
}

# the mock's record of the request with X-Llmgw-Test-Id: $id
sub record {
    my ($id) = @_;
    my $r = $http->get("http://$mock/__mock/requests");
    for my $rec (@{ $json->decode($r->{content}) }) {
        for my $h (@{ $rec->{headers} }) {
            return $rec if lc $h->[0] eq 'x-llmgw-test-id' && $h->[1] eq $id;
        }
    }
    return undef;
}

# the audit lines, once there are n of them (written after the response)
sub audit {
    my ($n) = @_;
    my @l;
    for (1 .. 50) {
        if (open my $fh, '<:raw', $log) {
            @l = <$fh>;
            close $fh;
        }
        last if @l >= $n;
        sleep 0.1;
    }
    return map { $json->decode($_) } @l;
}

# 1. DPoP: allowed, the proof and the token stay behind

my $proof = llmgw_dpop(htm => 'POST', htu => "http://127.0.0.1:$port$PATH",
                       token => $bound);

my $r = chat('dpop-1', Authorization => "DPoP $bound", DPoP => $proof);
is($r->{status}, 200, 'DPoP: 200 from the provider');

my $rec = record('dpop-1');
ok($rec, 'DPoP: the mock saw the request');

my @names = map { lc $_->[0] } @{ $rec->{headers} || [] };
is_deeply([grep { $_ eq 'dpop' || $_ eq 'authorization' } @names], [],
          'DPoP: neither DPoP nor Authorization reached the provider');
is_deeply($rec->{auth}, { verdict => 'ok', scheme => 'api-key' },
          'DPoP: the provider key was injected');
is($rec->{jwt_in}, undef, 'DPoP: no JWT anywhere in the request');

# 2. bearer: allowed, no binding

$r = chat('bearer-1', Authorization => "Bearer $bearer");
is($r->{status}, 200, 'bearer: 200 from the provider');

# 3. the replayed proof: refused before the provider

$r = chat('dpop-2', Authorization => "DPoP $bound", DPoP => $proof);
is($r->{status}, 401, 'replayed proof: 401');
is(record('dpop-2'), undef, 'replayed proof: the provider never saw it');

my @a = audit(3);
is(scalar @a, 3, 'three audit lines');
is($a[0]{token_binding}, 'dpop', 'DPoP: "token_binding":"dpop"');
is($a[0]{sub}, 'alice', 'DPoP: sub');
ok(exists $a[1]{token_binding} && !defined $a[1]{token_binding},
   'bearer: "token_binding":null');
is($a[1]{sub}, 'bob', 'bearer: sub');
is($a[2]{reason}, 'DPoP proof replayed', 'replay: the reason');
ok(exists $a[2]{token_binding} && !defined $a[2]{token_binding},
   'replay: "token_binding":null, not bound to this request');

nginx_stop($pid);

done_testing();
