# Registered clients (llmgw_clients): a client gets at most its ceiling,
# whatever its token says, cut in the scope tree (a token's "all" under
# the ceiling "text" is "text"); a pending client its pending ceiling; an
# unknown client the default ceiling, or a 403 that names why.  The
# client is client_id, else azp, cid, appid.  Files nginx -t refuses, a
# reload, the audit line: t/clients-config.t.

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket;
use LLMGW::Test;

repeat_each(2);

plan tests => repeat_each() * (4 * blocks());

no_shuffle();

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value('request', "GET /text") unless defined $block->request;

    $block->set_value('http_config', <<'_EOC_' . $block->http_config);
    llmgw_token_cache_zone llmgw_tokens:1m;
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;

    llmgw_scopes {
        all     text audio video;
        text    claude openai.text gemini.text;
        audio   openai.stt openai.tts;
        video   video.generate video.analyze;
    }
_EOC_

    $block->set_value('user_files', <<'_EOF_');
>>> ok.txt
ok
>>> clients.csv
# registered clients: what each may ever be granted
client_id,status,ceiling,pending_ceiling
web-chat,approved,text,
voice-app,approved,text audio,
claude-only,approved,claude audio,
dcr-new,pending,text audio,
dcr-claude,pending,text audio,claude
_EOF_

    $block->set_value('config', <<'_EOC_');
    llmgw_auth jwt;
    llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
    add_header X-Scopes "$llmgw_scopes" always;

    location = /text { llmgw_require_scope claude; alias html/ok.txt; }
    location = /openai-text {
        llmgw_require_scope openai.text;
        alias html/ok.txt;
    }
    location = /audio { llmgw_require_scope openai.stt; alias html/ok.txt; }
    location = /audio-uncut {
        llmgw_client_ceiling off;
        llmgw_require_scope openai.stt;
        alias html/ok.txt;
    }
_EOC_
});

run_tests();

__DATA__

=== TEST 1: a restricted client's "all" is its ceiling: a text call passes
--- http_config
    llmgw_clients ../html/clients.csv;
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'all',
                                       claims => { client_id => 'web-chat' })
--- response_body
ok
--- response_headers
X-Scopes: text
!WWW-Authenticate



=== TEST 2: a restricted client's "all" is its ceiling: an audio call is 403
--- http_config
    llmgw_clients ../html/clients.csv;
--- request
GET /audio
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'all',
                                       claims => { client_id => 'web-chat' })
--- error_code: 403
--- response_body
{"error":{"code":"insufficient_scope","message":"insufficient scope","scope":"openai.stt"}}
--- response_headers
WWW-Authenticate: Bearer realm="llmgw", error="insufficient_scope", error_description="insufficient scope", scope="openai.stt"
X-Scopes: text




=== TEST 3: a client whose ceiling has audio makes the audio call
--- http_config
    llmgw_clients ../html/clients.csv;
--- request
GET /audio
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'all',
                                       claims => { client_id => 'voice-app' })
--- response_body
ok
--- response_headers
X-Scopes: text audio
!WWW-Authenticate



=== TEST 4: a token's narrower scope stays as it is under a wider ceiling
--- http_config
    llmgw_clients ../html/clients.csv;
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'claude openid',
                                       claims => { client_id => 'web-chat' })
--- response_body
ok
--- response_headers
X-Scopes: claude
!WWW-Authenticate



=== TEST 5: a ceiling below the token's scope: "text" under "claude audio"
--- http_config
    llmgw_clients ../html/clients.csv;
--- request
GET /openai-text
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'text',
                                       claims => { client_id => 'claude-only' })
--- error_code: 403
--- response_body
{"error":{"code":"insufficient_scope","message":"insufficient scope","scope":"openai.text"}}
--- response_headers
X-Scopes: claude
WWW-Authenticate: Bearer realm="llmgw", error="insufficient_scope", error_description="insufficient scope", scope="openai.text"




=== TEST 6: the same token passes where its client's ceiling reaches
--- http_config
    llmgw_clients ../html/clients.csv;
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'text',
                                       claims => { client_id => 'claude-only' })
--- response_body
ok
--- response_headers
X-Scopes: claude
!WWW-Authenticate



=== TEST 7: azp names the client when there is no client_id (Entra ID)
--- http_config
    llmgw_clients ../html/clients.csv;
--- request
GET /audio
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'all',
                                       claims => { azp => 'web-chat' })
--- error_code: 403
--- response_body
{"error":{"code":"insufficient_scope","message":"insufficient scope","scope":"openai.stt"}}
--- response_headers
X-Scopes: text
WWW-Authenticate: Bearer realm="llmgw", error="insufficient_scope", error_description="insufficient scope", scope="openai.stt"




=== TEST 8: client_id goes before azp
--- http_config
    llmgw_clients ../html/clients.csv;
--- request
GET /audio
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'all',
                                       claims => { client_id => 'voice-app',
                                                   azp => 'web-chat' })
--- response_body
ok
--- response_headers
X-Scopes: text audio
!WWW-Authenticate




=== TEST 9: appid names the client (Entra ID v1 tokens)
--- http_config
    llmgw_clients ../html/clients.csv;
--- request
GET /audio
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'all',
                                       claims => { appid => 'web-chat' })
--- error_code: 403
--- response_body_like: "insufficient_scope"
--- response_headers
X-Scopes: text
WWW-Authenticate: Bearer realm="llmgw", error="insufficient_scope", error_description="insufficient scope", scope="openai.stt"




=== TEST 10: an unknown client is refused by default
--- http_config
    llmgw_clients ../html/clients.csv;
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'all',
                                       claims => { client_id => 'stranger' })
--- error_code: 403
--- response_body
{"error":{"code":"forbidden","message":"client not registered"}}
--- response_headers
!WWW-Authenticate
!X-Scopes




=== TEST 11: a token that names no client is refused by default
--- http_config
    llmgw_clients ../html/clients.csv unknown=deny;
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'all')
--- error_code: 403
--- response_body
{"error":{"code":"forbidden","message":"token names no client"}}
--- response_headers
!WWW-Authenticate
!X-Scopes




=== TEST 12: unknown=text: an unknown client makes text calls
--- http_config
    llmgw_clients ../html/clients.csv unknown=text;
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'all',
                                       claims => { client_id => 'stranger' })
--- response_body
ok
--- response_headers
X-Scopes: text
!WWW-Authenticate



=== TEST 13: unknown=text: and no audio call
--- http_config
    llmgw_clients ../html/clients.csv unknown=text;
--- request
GET /audio
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'all',
                                       claims => { client_id => 'stranger' })
--- error_code: 403
--- response_body
{"error":{"code":"insufficient_scope","message":"insufficient scope","scope":"openai.stt"}}
--- response_headers
X-Scopes: text
WWW-Authenticate: Bearer realm="llmgw", error="insufficient_scope", error_description="insufficient scope", scope="openai.stt"




=== TEST 14: unknown=claude,openai.stt: a list of scopes
--- http_config
    llmgw_clients ../html/clients.csv unknown=claude,openai.stt;
--- request
GET /audio
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'all')
--- response_body
ok
--- response_headers
X-Scopes: claude openai.stt
!WWW-Authenticate




=== TEST 15: a pending client without a pending ceiling is refused
--- http_config
    llmgw_clients ../html/clients.csv;
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'all',
                                       claims => { client_id => 'dcr-new' })
--- error_code: 403
--- response_body
{"error":{"code":"forbidden","message":"client pending approval"}}
--- response_headers
!WWW-Authenticate
!X-Scopes




=== TEST 16: pending=claude: a pending client gets the default pending ceiling
--- http_config
    llmgw_clients ../html/clients.csv pending=claude;
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'all',
                                       claims => { client_id => 'dcr-new' })
--- response_body
ok
--- response_headers
X-Scopes: claude
!WWW-Authenticate



=== TEST 17: pending=claude: not its ceiling once approved (text audio)
--- http_config
    llmgw_clients ../html/clients.csv pending=claude;
--- request
GET /openai-text
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'all',
                                       claims => { client_id => 'dcr-new' })
--- error_code: 403
--- response_body_like: "scope":"openai.text"
--- response_headers
X-Scopes: claude
WWW-Authenticate: Bearer realm="llmgw", error="insufficient_scope", error_description="insufficient scope", scope="openai.text"




=== TEST 18: a pending client's own pending ceiling goes before the default
--- http_config
    llmgw_clients ../html/clients.csv pending=text;
--- request
GET /openai-text
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'all',
                                       claims => { client_id => 'dcr-claude' })
--- error_code: 403
--- response_body_like: "scope":"openai.text"
--- response_headers
X-Scopes: claude
WWW-Authenticate: Bearer realm="llmgw", error="insufficient_scope", error_description="insufficient scope", scope="openai.text"




=== TEST 19: pending=none refuses pending clients without their own
--- http_config
    llmgw_clients ../html/clients.csv pending=none unknown=text;
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'all',
                                       claims => { client_id => 'dcr-new' })
--- error_code: 403
--- response_body
{"error":{"code":"forbidden","message":"client pending approval"}}
--- response_headers
!WWW-Authenticate
!X-Scopes




=== TEST 20: without llmgw_clients a token's "all" is all
--- http_config
--- request
GET /audio
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'all',
                                       claims => { client_id => 'web-chat' })
--- response_body
ok
--- response_headers
X-Scopes: all
!WWW-Authenticate



=== TEST 21: llmgw_client_ceiling off: the location grants the token's scopes
--- http_config
    llmgw_clients ../html/clients.csv;
--- request
GET /audio-uncut
--- more_headers eval
"Authorization: Bearer " . llmgw_token(scope => 'all',
                                       claims => { client_id => 'web-chat' })
--- response_body
ok
--- response_headers
X-Scopes: all
!WWW-Authenticate
