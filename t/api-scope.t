# Scopes per provider API: the configuration of examples/ (scopes.conf and
# apis/*.conf) in front of an upstream that answers everything, so what is
# tested is the gateway's decision alone.  For each provider, every
# documented endpoint form is classified to its API kind and needs the
# scope apis/*.conf gives it (a sibling scope is refused, the parent
# grants); an endpoint the adapter does not know is refused, as is a known
# API the location does not list; paths that nginx and the provider could
# read differently are refused with 400 before anything is forwarded.
# Plain Test::More: a table of some two hundred requests against one nginx.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use HTTP::Tiny;
use LLMGW::Test qw(:all);
use LLMGW::Nginx;

for my $v (qw(TEST_NGINX_LOAD_MODULES TEST_NGINX_MOCK_SECRETS)) {
    plan skip_all => "$v is not set (t/run-tests.sh sets it)"
        unless $ENV{$v};
}

my $keys = llmgw_keys_dir();
my $secrets = $ENV{TEST_NGINX_MOCK_SECRETS};
my $examples = llmgw_root() . '/examples';
my $dir = nginx_prefix();
my $port = free_port();
my $up = free_port();

my $gw = sub {
    my ($name, $provider, $inside) = @_;
    return <<"_EOC_";
        location /$name/ {
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            llmgw_token_header authorization api-key x-goog-api-key;
            llmgw_provider $provider;
            llmgw_pass_strip_prefix /$name;
            llmgw_pass http://127.0.0.1:$up;
            add_header X-Api \$llmgw_api always;
            $inside
        }
_EOC_
};

nginx_conf($dir, <<"_EOC_");
    include $examples/scopes.conf;
    llmgw_jwt_issuer https://idp.example.com/;
    llmgw_jwt_audience llmgw;

    server {
        listen 127.0.0.1:$up;
        location / { return 200 "up \$request_uri\\n"; }
    }

    server {
        listen 127.0.0.1:$port;
${\ $gw->('azure-openai', 'azure_openai',
          "include $examples/apis/azure-openai.conf;
           llmgw_pass_api_key file=$secrets/azure.key;") }
${\ $gw->('bedrock-claude', 'bedrock',
          "include $examples/apis/bedrock.conf;
           llmgw_pass_aws_region us-east-1;
           llmgw_pass_aws_credentials file=$secrets/aws-credentials;") }
${\ $gw->('gemini', 'gemini',
          "include $examples/apis/gemini.conf;
           llmgw_pass_api_key file=$secrets/gemini.key;") }
${\ $gw->('openai', 'openai',
          "llmgw_api_scope chat,responses openai.text;
           llmgw_api_scope audio.speech openai.tts;
           llmgw_pass_api_key file=$secrets/openai.key;") }
${\ $gw->('any-api', 'openai',
          "llmgw_api_unknown allow;
           llmgw_require_scope openai.text;
           llmgw_pass_api_key file=$secrets/openai.key;") }
${\ $gw->('no-list', 'gemini',
          "llmgw_require_scope gemini.text;
           llmgw_pass_api_key file=$secrets/gemini.key;") }
    }
_EOC_

my $pid = nginx_start($dir, $port) or BAIL_OUT('nginx did not start');
my $http = HTTP::Tiny->new(timeout => 10);

my %token;

sub token {
    my ($scope) = @_;
    $token{$scope} //= llmgw_token(iss => 'https://idp.example.com/',
                                   aud => 'llmgw', sub => 'u1',
                                   scope => $scope);
    return $token{$scope};
}

sub call {
    my ($path, $scope) = @_;
    my $res = $http->request('POST', "http://127.0.0.1:$port$path",
        { headers => { Authorization => 'Bearer ' . token($scope),
                       'Content-Type' => 'application/json' },
          content => '{}' });
    return $res;
}

# [ path, kind, the scope it needs, a scope that must not do ]
my @known = (
    # Azure OpenAI, deployment-based data plane
    [ '/azure-openai/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21',
      'chat', 'openai.text', 'openai.stt' ],
    [ '/azure-openai/openai/deployments/gpt-4o/extensions/chat/completions',
      'chat', 'openai.text', 'gemini.text' ],
    [ '/azure-openai/openai/deployments/davinci/completions',
      'completions', 'openai.text', 'claude' ],
    [ '/azure-openai/openai/deployments/ada/embeddings',
      'embeddings', 'openai.text', 'audio' ],
    [ '/azure-openai/openai/deployments/dalle3/images/generations',
      'images', 'openai.image', 'text' ],
    [ '/azure-openai/openai/deployments/gpt-image-1/images/edits',
      'images', 'openai.image', 'openai.text' ],
    [ '/azure-openai/openai/deployments/whisper/audio/transcriptions',
      'audio.transcription', 'openai.stt', 'text' ],
    [ '/azure-openai/openai/deployments/whisper/audio/translations',
      'audio.translation', 'openai.stt', 'openai.text' ],
    [ '/azure-openai/openai/deployments/tts/audio/speech',
      'audio.speech', 'openai.tts', 'openai.stt' ],
    [ '/azure-openai/openai/responses', 'responses', 'openai.text', 'audio' ],
    [ '/azure-openai/openai/responses/resp_1/input_items',
      'responses', 'openai.text', 'claude' ],
    [ '/azure-openai/openai/batches/batch_1/cancel',
      'batch', 'openai.text', 'audio' ],
    [ '/azure-openai/openai/files/file-1/content',
      'files', 'openai.text', 'video' ],
    [ '/azure-openai/openai/models', 'models', 'openai.text', 'image' ],
    # Azure OpenAI, the v1 API
    [ '/azure-openai/openai/v1/chat/completions',
      'chat', 'openai.text', 'openai.tts' ],
    [ '/azure-openai/openai/v1/audio/speech',
      'audio.speech', 'openai.tts', 'openai.text' ],
    [ '/azure-openai/openai/v1/audio/transcriptions',
      'audio.transcription', 'openai.stt', 'text' ],
    [ '/azure-openai/openai/v1/audio/translations',
      'audio.translation', 'openai.stt', 'text' ],
    [ '/azure-openai/openai/v1/images/generations',
      'images', 'openai.image', 'text' ],
    [ '/azure-openai/openai/v1/responses', 'responses', 'openai.text',
      'openai.tts' ],
    [ '/azure-openai/openai/v1/video/generations/jobs?api-version=preview',
      'video.generation', 'video.generate', 'text' ],
    [ '/azure-openai/openai/v1/video/generations/gen_1/content/video',
      'video.generation', 'video.generate', 'video.analyze' ],
    [ '/azure-openai/openai/v1/videos', 'video.generation', 'video.generate',
      'openai.text' ],
    # Amazon Bedrock runtime
    [ '/bedrock-claude/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke',
      'invoke', 'claude', 'openai.text' ],
    [ '/bedrock-claude/model/anthropic.claude-3-5-sonnet-20240620-v1:0/invoke-with-response-stream',
      'invoke', 'claude', 'gemini.text' ],
    [ '/bedrock-claude/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse',
      'converse', 'claude', 'audio' ],
    [ '/bedrock-claude/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse-stream',
      'converse', 'claude', 'video' ],
    [ '/bedrock-claude/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A111122223333%3Aapplication-inference-profile%2Fabc123/converse',
      'converse', 'claude', 'openai.text' ],
    [ '/bedrock-claude/model/anthropic.claude-3-haiku-20240307-v1%3A0/count-tokens',
      'count-tokens', 'claude', 'audio' ],
    [ '/bedrock-claude/guardrail/gr1/version/1/apply',
      'apply-guardrail', 'claude', 'openai.text' ],
    [ '/bedrock-claude/async-invoke', 'async-invoke', 'video.generate',
      'claude' ],
    [ '/bedrock-claude/async-invoke/arn%3Aaws%3Abedrock%3Aus-east-1%3A111122223333%3Aasync-invoke%2Fx1',
      'async-invoke', 'video.generate', 'text' ],
    # Google Gemini
    [ '/gemini/v1beta/models/gemini-2.0-flash:generateContent',
      'generateContent', 'gemini.text', 'openai.text' ],
    [ '/gemini/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse',
      'generateContent', 'gemini.text', 'claude' ],
    [ '/gemini/v1/models/gemini-2.0-flash:generateContent',
      'generateContent', 'gemini.text', 'audio' ],
    [ '/gemini/v1beta/models/gemini-2.0-flash:countTokens',
      'countTokens', 'gemini.text', 'video' ],
    [ '/gemini/v1beta/models/text-embedding-004:embedContent',
      'embedContent', 'gemini.text', 'image' ],
    [ '/gemini/v1beta/models/text-embedding-004:batchEmbedContents',
      'embedContent', 'gemini.text', 'openai.text' ],
    [ '/gemini/v1beta/models/imagen-4.0-generate-001:predict',
      'predict', 'gemini.image', 'gemini.text' ],
    [ '/gemini/v1beta/models/veo-3.0-generate-preview:predictLongRunning',
      'predictLongRunning', 'video.generate', 'gemini.text' ],
    [ '/gemini/v1beta/models/veo-3.0-generate-preview/operations/op1',
      'operations', 'video.generate', 'text' ],
    [ '/gemini/v1beta/models/gemini-2.0-flash:batchGenerateContent',
      'batch', 'gemini.text', 'video' ],
    [ '/gemini/v1beta/models', 'models', 'gemini.text', 'openai.text' ],
    [ '/gemini/v1beta/files/f1', 'files', 'gemini.text', 'claude' ],
    [ '/gemini/upload/v1beta/files', 'files', 'gemini.text', 'audio' ],
    [ '/gemini/v1beta/cachedContents', 'cachedContents', 'gemini.text',
      'image' ],
    # OpenAI, two kinds listed
    [ '/openai/v1/chat/completions', 'chat', 'openai.text', 'openai.tts' ],
    [ '/openai/v1/audio/speech', 'audio.speech', 'openai.tts',
      'openai.text' ],
);

my %parent = ('openai.text' => 'text', 'claude' => 'text',
              'gemini.text' => 'text', 'openai.stt' => 'audio',
              'openai.tts' => 'audio', 'video.generate' => 'video',
              'openai.image' => 'image', 'gemini.image' => 'image');

for my $t (@known) {
    my ($path, $kind, $scope, $other) = @$t;
    my $res;

    $res = call($path, $scope);
    is($res->{status}, 200, "$kind with $scope: $path");
    is($res->{headers}{'x-api'}, $kind, "$path is $kind");
    like($res->{content}, qr/^up \//, "$path: forwarded");

    $res = call($path, $parent{$scope});
    is($res->{status}, 200, "$kind with $parent{$scope}: $path");

    $res = call($path, $other);
    is($res->{status}, 403, "$kind with $other refused: $path");
    like($res->{headers}{'www-authenticate'} // '',
         qr/error="insufficient_scope".*scope="\Q$scope\E"/,
         "$path: the challenge names $scope");
}

# unknown endpoints, and near misses of known ones: refused whatever the
# scope, with no challenge (no other token would do)
my @unknown = (
    '/azure-openai/openai/deployments/tts/Audio/Speech',
    '/azure-openai/openai/deployments/tts/audio/speech/',
    '/azure-openai/openai/deployments/tts/audio/speech%20',
    '/azure-openai/openai/deployments/tts/audio/speech%09',
    '/azure-openai/openai/deployments/tts/audio/%73peech',
    '/azure-openai/openai/deployments/gpt-4o/chat/completions/x',
    '/azure-openai/openai/deployments/audio/speech',
    '/azure-openai/openai/assistants',
    '/azure-openai/openai/deployments/gpt-4o/realtime',
    '/azure-openai/v1/chat/completions',
    '/bedrock-claude/model/m1/Invoke',
    '/bedrock-claude/model/m1/invoke/',
    '/bedrock-claude/model/m1',
    '/bedrock-claude/models/m1/invoke',
    '/gemini/v1beta/models/gemini-2.0-flash:GenerateContent',
    '/gemini/v1beta/models/gemini-2.0-flash:generateContent/',
    '/gemini/v1beta/models/gemini-2.0-flash:generateAnswer',
    '/gemini/v2/models/gemini-2.0-flash:generateContent',
    '/gemini/v1beta/tunedModels',
    '/openai/v1/moderations',
    '/openai/v1/realtime/sessions',
);

for my $path (@unknown) {
    my $res = call($path, 'all');
    is($res->{status}, 403, "unknown endpoint refused: $path");
    like($res->{content}, qr/"message":"unknown API"/,
         "$path: says unknown API");
    ok(!defined $res->{headers}{'www-authenticate'},
       "$path: no challenge");
}

# known to the adapter, not listed by the location
for my $path ('/bedrock-claude/model/amazon.nova-sonic-v1%3A0/invoke-with-bidirectional-stream',
              '/openai/v1/embeddings', '/openai/v1/audio/transcriptions')
{
    my $res = call($path, 'all');
    is($res->{status}, 403, "API not listed refused: $path");
    like($res->{content}, qr/"message":"API not allowed here"/,
         "$path: says not allowed here");
}

# paths that could mean something else to the provider: 400 before the
# scope is looked at, and nothing reaches the upstream
my @ambiguous = (
    '/azure-openai/openai/deployments/tts/audio/speech;x',
    '/azure-openai/openai/deployments/tts/audio/speech%2F',
    '/azure-openai/openai/deployments/x%2F..%2Ftts/audio/speech',
    '/azure-openai/openai/deployments/x/..%2F/audio/speech',
    '/azure-openai/openai//deployments/tts/audio/speech',
    '/azure-openai/openai/deployments/tts/audio/%2E%2E/speech',
    '/azure-openai/openai/deployments/tts%5Caudio/speech',
    '/bedrock-claude/model/m1%2F..%2Fx/invoke',
    '/bedrock-claude/model/arn%3Aaws%3Abedrock%2F..%2Fx/invoke',
    '/gemini/v1beta/models/gemini%3AgenerateContent',
);

for my $path (@ambiguous) {
    my $res = call($path, 'all');
    is($res->{status}, 400, "ambiguous path refused: $path");
    unlike($res->{content}, qr/^up /, "$path: nothing forwarded");
}

# llmgw_api_unknown allow: the location's own scope decides
my $res = call('/any-api/v1/moderations', 'openai.text');
is($res->{status}, 200, 'llmgw_api_unknown allow: an unknown endpoint');
$res = call('/any-api/v1/moderations', 'claude');
is($res->{status}, 403, 'llmgw_api_unknown allow: still the location scope');
$res = call('/any-api/v1/audio/speech', 'openai.text');
is($res->{status}, 200,
   'no llmgw_api_scope: a known API takes the location scope');

# without llmgw_api_scope, unknown endpoints are still refused
$res = call('/no-list/v1beta/models/veo-3:predictLongRunningX', 'all');
is($res->{status}, 403, 'default: an unknown endpoint is refused');
$res = call('/no-list/v1beta/models/g:generateContent', 'gemini.text');
is($res->{status}, 200, 'default: a known API with the location scope');

nginx_stop($pid);

# nginx -t: kind names are checked
my $check = sub {
    my ($inside) = @_;
    nginx_conf($dir, "llmgw_jwt_issuer any; llmgw_jwt_audience any;\n"
               . "server { listen 127.0.0.1:1; location /x/ {\n"
               . "llmgw_auth jwt; llmgw_jwt_keys $keys/jwks.json;\n"
               . "$inside } }");
    return nginx_check($dir);
};

my ($ok, $out) = $check->("llmgw_api_scope chat,embedings text;");
ok(!$ok, 'a misspelt API kind is refused');
like($out, qr/unknown API kind "embedings"/, '... naming it');

($ok, $out) = $check->("llmgw_api_scope converse claude;
                        llmgw_provider azure_openai;
                        llmgw_pass_api_key file=$secrets/azure.key;
                        llmgw_pass http://127.0.0.1:1;");
ok(!$ok, 'a kind of another provider is refused');
like($out, qr/"converse" is not an API of provider "azure_openai"/,
     '... naming kind and provider');

($ok, $out) = $check->("llmgw_api_scope chat text; llmgw_api_scope chat all;");
ok(!$ok, 'a kind given twice is refused');
like($out, qr/API kind "chat" is given twice/, '... saying so');

($ok, $out) = $check->("llmgw_api_unknown maybe;");
ok(!$ok, 'llmgw_api_unknown takes allow or deny');

($ok, $out) = $check->("llmgw_api_scope chat,responses text;
                        llmgw_provider openai;
                        llmgw_pass_api_key file=$secrets/openai.key;
                        llmgw_pass http://127.0.0.1:1;");
ok($ok, 'kinds of the location\'s provider are accepted') or diag $out;

done_testing();
