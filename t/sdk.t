# The official SDKs (openai's AzureOpenAI, @aws-sdk/client-bedrock-runtime,
# @google/genai) as clients of the gateway: base URL switched, the JWT
# where each SDK puts its key, through llmgw to the mock provider.  Node's
# own test runner drives the SDKs (t/sdk/*.test.mjs); this file starts the
# gateway for them and fails when any of them fails.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use LLMGW::Test qw(:all);
use LLMGW::Nginx;

for my $v (qw(TEST_NGINX_LOAD_MODULES TEST_NGINX_MOCK_PORT
              TEST_NGINX_MOCK_CERTS TEST_NGINX_MOCK_SECRETS))
{
    plan skip_all => "$v is not set (t/run-tests.sh sets it)"
        unless $ENV{$v};
}

plan skip_all => 'node_modules missing: npm ci --prefix t/sdk'
    unless -d 't/sdk/node_modules';

my $keys = llmgw_keys_dir();
my $mock = "127.0.0.1:$ENV{TEST_NGINX_MOCK_PORT}";
my $certs = $ENV{TEST_NGINX_MOCK_CERTS};
my $secrets = $ENV{TEST_NGINX_MOCK_SECRETS};
my $dir = nginx_prefix();
my $port = free_port();
my $examples = llmgw_root() . '/examples';

# the provider locations of examples/nginx.conf, in front of the mock;
# the Bedrock SDK needs TLS with HTTP/2
nginx_conf($dir, <<"_EOC_");
    include $examples/scopes.conf;

    llmgw_token_cache_zone llmgw_tokens:1m;
    llmgw_dpop_zone llmgw_dpop:1m;
    llmgw_jwt_keys $keys/jwks.json;
    llmgw_jwt_issuer https://idp.example.com/;
    llmgw_jwt_audience llmgw;
    client_max_body_size 25m;

    server {
        listen 127.0.0.1:$port ssl http2;
        ssl_certificate $certs/server.crt;
        ssl_certificate_key $certs/server.key;

        location /azure-openai/ {
            llmgw_auth jwt;
            llmgw_token_header api-key authorization;
            include $examples/apis/azure-openai.conf;
            llmgw_provider azure_openai;
            llmgw_pass_strip_prefix /azure-openai;
            llmgw_pass_api_key file=$secrets/azure.key;
            llmgw_pass http://$mock;
        }

        location /dpop-azure-openai/ {
            llmgw_auth jwt;
            llmgw_dpop required;
            include $examples/apis/azure-openai.conf;
            llmgw_provider azure_openai;
            llmgw_pass_strip_prefix /dpop-azure-openai;
            llmgw_pass_api_key file=$secrets/azure.key;
            llmgw_pass http://$mock;
        }

        location /bedrock-claude/ {
            llmgw_auth jwt;
            include $examples/apis/bedrock.conf;
            llmgw_provider bedrock;
            llmgw_pass_strip_prefix /bedrock-claude;
            llmgw_pass_aws_region us-east-1;
            llmgw_pass_aws_credentials file=$secrets/aws-credentials;
            llmgw_pass_host bedrock-runtime.us-east-1.amazonaws.com;
            llmgw_pass http://$mock;
        }

        location /gemini/ {
            llmgw_auth jwt;
            llmgw_token_header x-goog-api-key;
            include $examples/apis/gemini.conf;
            llmgw_provider gemini;
            llmgw_pass_strip_prefix /gemini;
            llmgw_pass_api_key file=$secrets/gemini.key;
            llmgw_pass http://$mock;
        }
    }
_EOC_

my $pid = nginx_start($dir, $port);

ok($pid, 'the gateway started') or BAIL_OUT('nginx did not start');

# text and audio: every API the SDK tests call
my $token = llmgw_token(key => 'rsa', iss => 'https://idp.example.com/',
                        aud => 'llmgw', sub => 'sdk-user',
                        scope => 'text audio', exp => 900);

# bound to ec256's key for the DPoP tests (t/sdk/azure-openai-dpop.test.mjs)
$ENV{LLMGW_SDK_DPOP_TOKEN} = llmgw_token(key => 'rsa',
    iss => 'https://idp.example.com/', aud => 'llmgw', sub => 'sdk-user',
    scope => 'text audio', exp => 900,
    claims => { cnf => { jkt => llmgw_dpop_jkt('ec256') } });
$ENV{LLMGW_SDK_DPOP_KEY} = "$keys/ec256.key";

$ENV{LLMGW_SDK_BASE} = "https://127.0.0.1:$port";
$ENV{LLMGW_SDK_TOKEN} = $token;
$ENV{LLMGW_SDK_MOCK} = "http://$mock";
$ENV{NODE_EXTRA_CA_CERTS} = "$certs/ca.crt";
delete $ENV{LLMGW_SDK_DIRECT};

my $out = `t/sdk/run.sh 2>&1`;
note($out) if $ENV{LLMGW_SDK_VERBOSE};
my $status = $? >> 8;

nginx_stop($pid);

my ($pass) = $out =~ /^# pass (\d+)$/m;
my ($fail) = $out =~ /^# fail (\d+)$/m;

is($status, 0, 'the SDK tests exited 0') or diag($out);
is($fail, 0, 'no SDK test failed');
cmp_ok($pass // 0, '>=', 16, 'the SDK tests ran (chat, streams, audio, '
       . 'InvokeModel, Converse and their streams, generateContent, DPoP)');

# the client's JWT never reached the provider: the mock refuses any request
# carrying one, so a request it recorded as refused would show here
my $log = do { local $/; open my $fh, '<', "$dir/logs/access.log"; <$fh> };
unlike($log // '', qr/" (?:400|401|403) /,
       'no request was refused by the gateway or the mock');

done_testing();
