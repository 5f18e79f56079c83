# The admin API's usage by department (GET /departments/{id}/usage,
# GET /departments/usage/summary) from the metrics zone's token counters
# after known calls through the mock provider: exact sums by department,
# by provider and model; a department not counted on its own is 404; a
# location of the admin API without a metrics zone; the health.  Plain
# Test::More: calls in order against one nginx.

use strict;
use warnings;
use utf8;

BEGIN { push @INC, 't/lib' }
use Test::More;
use HTTP::Tiny;
use Encode qw(decode_utf8 encode_utf8);
use URI::Escape qw(uri_escape_utf8);
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

binmode Test::More->builder->$_, ':encoding(UTF-8)'
    for qw(output failure_output todo_output);

nginx_conf($dir, encode_utf8(<<"_EOC_"));
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;

    llmgw_scopes {
        all     text;
        text    openai.text;
        admin   llmgw.admin;
    }

    llmgw_audit_department_claim custom:department;

    llmgw_metrics_zone metrics:1m;
    llmgw_metrics_departments finance 営業部;

    llmgw_jwks_zone idp:1m uri=/_jwks;

    server {
        listen 127.0.0.1:$port;

        location /azure/ {
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            llmgw_provider azure_openai;
            llmgw_pass_strip_prefix /azure;
            llmgw_pass http://$mock;
            llmgw_pass_api_key file=$secrets/azure.key;
            llmgw_api_scope chat openai.text;
        }

        location = /_jwks {
            internal;
            proxy_pass http://127.0.0.1:$port/idp/jwks.json;
        }

        location /idp/ {
            alias $dir/html/;
            default_type application/json;
        }

        location /admin/ {
            llmgw_auth jwt;
            llmgw_jwt_jwks idp;
            llmgw_require_scope llmgw.admin;
            llmgw_admin;
        }
    }
_EOC_

# the workers' user reads the JWKS: a copy where it may
open my $in, '<', "$keys/jwks.json" or die "$keys/jwks.json: $!";
open my $out, '>', "$dir/html/jwks.json" or die "$dir/html/jwks.json: $!";
print $out $_ while <$in>;
close $out;

my $pid = nginx_start($dir, $port) or BAIL_OUT('nginx did not start');
my $http = HTTP::Tiny->new(timeout => 10);

my $CHAT = '{"messages":[{"role":"user","content":"one two three"}]}';
my $Q = '?api-version=2024-10-21';
my $admin = llmgw_token(sub => 'ops', scope => 'llmgw.admin');

sub chat {
    my ($model, $dept, %h) = @_;
    my $t = llmgw_token(sub => 'u', scope => 'text',
                        claims => { 'custom:department' => $dept });
    return $http->request('POST', "http://127.0.0.1:$port/azure/openai/"
                          . "deployments/$model/chat/completions$Q",
                          { headers => { Authorization => "Bearer $t",
                                         'Content-Type' => 'application/json',
                                         %h },
                            content => $CHAT })->{status};
}

sub admin {
    my ($path) = @_;
    my $r = $http->get("http://127.0.0.1:$port/admin$path",
                       { headers => { Authorization => "Bearer $admin" } });
    return "$r->{status} " . decode_utf8($r->{content});
}

# 3 in and 6 out a call; the mock adds cached and reasoning tokens when
# asked (X-Mock-Usage-Details)
is(chat('gpt-4o', 'finance'), 200, 'finance, gpt-4o');
is(chat('gpt-4o', 'finance'), 200, 'finance, gpt-4o again');
is(chat('gpt-4o-mini', 'finance'), 200, 'finance, gpt-4o-mini');
is(chat('gpt-4o', '営業部'), 200, '営業部, gpt-4o');
is(chat('gpt-4o', 'sales'), 200, 'sales (not listed: other)');

# the log phase counts after the response: wait for the last call
for (1 .. 50) {
    last if admin('/departments/other/usage') =~ /"input_tokens":3/;
    select(undef, undef, undef, 0.05);
}

is(admin('/departments/finance/usage'),
   qq(200 {"department":"finance","tokens":{"input_tokens":9,)
   . qq("output_tokens":18},"models":[{"provider":"azure_openai",)
   . qq("model":"gpt-4o","tokens":{"input_tokens":6,"output_tokens":12}},)
   . qq({"provider":"azure_openai","model":"gpt-4o-mini","tokens":)
   . qq({"input_tokens":3,"output_tokens":6}}]}\n),
   'finance: totals, by provider and model');

is(admin('/departments/' . uri_escape_utf8('営業部') . '/usage'),
   qq(200 {"department":"営業部","tokens":{"input_tokens":3,)
   . qq("output_tokens":6},"models":[{"provider":"azure_openai",)
   . qq("model":"gpt-4o","tokens":{"input_tokens":3,"output_tokens":6}}]}\n),
   'a Japanese department');

is(admin('/departments/sales/usage'),
   qq(404 {"error":{"code":"not_found","message":"not a department of )
   . qq(llmgw_metrics_departments"}}\n),
   'a department counted as other: 404');

is(admin('/departments/usage/summary'),
   qq(200 {"departments":{"finance":{"input_tokens":9,"output_tokens":18},)
   . qq("other":{"input_tokens":3,"output_tokens":6},)
   . qq("営業部":{"input_tokens":3,"output_tokens":6}}}\n),
   'the summary');

my $h = admin('/system/health');
like($h, qr/^200\ \{"status":"ok","redis":false,"state_zone":false,
             "jwks":\[\{"zone":"idp","age_ms":\d+\}\],
             "audit":\[\],"stream_lag_ms":null\}\n\z/x,
     'health: the JWKS zone\'s age, no state zone, no audit');
$h =~ /"age_ms":(\d+)/;
cmp_ok($1, '<', 60000, 'health: the JWKS document fetched by the calls');

is(admin('/users/E1'),
   qq(404 {"error":{"code":"not_found","message":"no llmgw_state_zone"}}\n),
   'the user endpoints without a state zone: 404');

nginx_stop($pid);

done_testing();
