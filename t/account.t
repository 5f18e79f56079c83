# Account state (llmgw_state_zone): each kind of revocation, loaded from
# the state file, refuses the token, also from the token cache (the second
# request of a block is a cache hit, X-Cache says so); a revoked jti is
# forgotten once its token is past exp and the grace; the user's
# not-before time refuses older tokens and accepts a newer one; the user
# directory's accounts: disabled, not yet started, ended, unknown, by the
# configured user claim.  Dates and times are made when the file is read,
# relative to now.

BEGIN { push @INC, 't/lib' }
use Test::Nginx::Socket;
use LLMGW::Test;
use Digest::SHA qw(sha256_hex);
use POSIX qw(strftime);

repeat_each(1);

plan tests => repeat_each() * 68;

no_shuffle();

my $now = time;

sub day {
    my ($days) = @_;
    return strftime('%Y/%m/%d', gmtime($now + $days * 86400));
}

our $CSV = <<"_EOC_";
user_id,name,email,department,job_title,phone,start_date,end_date,status
u-active,山田 太郎,yamada\@example.co.jp,営業部,課長,03-1234-5678,@{[day(-30)]},,active
u-inactive,佐藤 花子,sato\@example.co.jp,経理部,,,@{[day(-30)]},,inactive
u-future,鈴木 一郎,suzuki\@example.co.jp,開発部,,,@{[day(3)]},,active
u-ended,高橋 次郎,takahashi\@example.co.jp,総務部,,,@{[day(-300)]},@{[day(-2)]},active
u-today,田中 三郎,tanaka\@example.co.jp,人事部,,,@{[day(-10)]},@{[day(0)]},active
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    directory($block) if defined $block->directory;

    $block->set_value('http_config', <<'_EOC_' . ($block->http_config // ''));
    llmgw_token_cache_zone llmgw_tokens:1m;
    llmgw_state_zone llmgw_state:1m;
    llmgw_state_file html/state.jsonl;

    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;
_EOC_

    $block->set_value('config', <<'_EOC_' . ($block->config // ''));
    location = /t {
        llmgw_auth jwt;
        llmgw_jwt_keys $TEST_NGINX_LLMGW_KEYS/jwks.json;
        llmgw_jwt_leeway 1h;
        add_header X-Cache $llmgw_token_cache always;
        root html;
        try_files /ok.txt =404;
    }
_EOC_

    $block->set_value('user_files', ">>> ok.txt\nok\n"
                                    . ($block->user_files // ''));

    $block->set_value('request', 'GET /t') unless defined $block->request;
});

# the directory in html/users.csv; the block's config after it
sub directory {
    my ($block) = @_;

    $block->set_value('user_files', ">>> users.csv\n$CSV"
                                    . ($block->user_files // ''));
    $block->set_value('http_config', "    llmgw_users ../html/users.csv "
                                     . "utc_offset=+00:00;\n");
}

sub state {
    return join '', qq({"llmgw_state":1}\n), map { "$_\n" } @_;
}

sub bearer {
    return "Authorization: Bearer " . llmgw_token(@_);
}

run_tests();

__DATA__

=== TEST 1: a revoked jti is refused, also when the token comes from the cache
--- user_files eval
">>> state.jsonl\n" . main::state(
    '{"jti_hash":"' . Digest::SHA::sha256_hex('stolen-1') . '","exp":'
    . (time + 300) . '}')
--- more_headers eval
main::bearer(sub => 'alice', jti => 'stolen-1')
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[401, 401]
--- response_headers eval
["X-Cache: MISS\nWWW-Authenticate: Bearer realm=\"llmgw\", error=\"invalid_token\", error_description=\"token revoked\"",
 "X-Cache: HIT\nWWW-Authenticate: Bearer realm=\"llmgw\", error=\"invalid_token\", error_description=\"token revoked\""]
--- response_body_like eval
[qr/"token revoked"/, qr/"token revoked"/]



=== TEST 2: the same user's other token passes
--- user_files eval
">>> state.jsonl\n" . main::state(
    '{"jti_hash":"' . Digest::SHA::sha256_hex('stolen-1') . '","exp":'
    . (time + 300) . '}')
--- more_headers eval
main::bearer(sub => 'alice', jti => 'other-2')
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 200]
--- response_body eval
["ok\n", "ok\n"]



=== TEST 3: a revoked jti is still refused 5 minutes after its exp (within the leeway)
--- user_files eval
">>> state.jsonl\n" . main::state(
    '{"jti_hash":"' . Digest::SHA::sha256_hex('old-5m') . '","exp":'
    . (time - 300) . '}')
--- more_headers eval
main::bearer(sub => 'alice', jti => 'old-5m', exp => -300, iat => -900)
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[401, 401]
--- response_body_like eval
[qr/"token revoked"/, qr/"token revoked"/]



=== TEST 4: a revoked jti is forgotten 10 minutes after its exp
The token is accepted 11 minutes past its exp by the 1h leeway of the
location; its revocation is gone.
--- user_files eval
">>> state.jsonl\n" . main::state(
    '{"jti_hash":"' . Digest::SHA::sha256_hex('old-11m') . '","exp":'
    . (time - 660) . '}')
--- more_headers eval
main::bearer(sub => 'alice', jti => 'old-11m', exp => -660, iat => -900)
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 200]
--- response_body eval
["ok\n", "ok\n"]



=== TEST 5: a token issued before the user's not-before time is refused
--- user_files eval
">>> state.jsonl\n" . main::state(
    '{"subject":"alice","not_before":' . (time - 60) . '}')
--- more_headers eval
main::bearer(sub => 'alice', iat => -120)
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[401, 401]
--- response_headers eval
["X-Cache: MISS\nWWW-Authenticate: Bearer realm=\"llmgw\", error=\"invalid_token\", error_description=\"token issued before the user's not-before time\"",
 "X-Cache: HIT"]



=== TEST 6: a token issued after the user's not-before time passes
--- user_files eval
">>> state.jsonl\n" . main::state(
    '{"subject":"alice","not_before":' . (time - 60) . '}')
--- more_headers eval
main::bearer(sub => 'alice', iat => -10)
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[200, 200]
--- response_body eval
["ok\n", "ok\n"]



=== TEST 7: a token without iat cannot show it is newer than the not-before time
--- user_files eval
">>> state.jsonl\n" . main::state(
    '{"subject":"alice","not_before":' . (time - 60) . '}')
--- more_headers eval
main::bearer(sub => 'alice', iat => undef)
--- error_code: 401
--- response_body_like: "token issued before the user's not-before time"



=== TEST 8: another user is not touched by alice's not-before time
--- user_files eval
">>> state.jsonl\n" . main::state(
    '{"subject":"alice","not_before":' . (time - 60) . '}')
--- more_headers eval
main::bearer(sub => 'bob', iat => -120)
--- error_code: 200
--- response_body
ok



=== TEST 9: a revoked client is refused, from client_id or azp, cached too
--- user_files eval
">>> state.jsonl\n" . main::state('{"client_id":"bad-app"}')
--- more_headers eval
main::bearer(sub => 'alice', claims => { azp => 'bad-app' })
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[401, 401]
--- response_headers eval
["X-Cache: MISS\nWWW-Authenticate: Bearer realm=\"llmgw\", error=\"invalid_token\", error_description=\"client revoked\"",
 "X-Cache: HIT"]



=== TEST 10: another client passes
--- user_files eval
">>> state.jsonl\n" . main::state('{"client_id":"bad-app"}')
--- more_headers eval
main::bearer(sub => 'alice', claims => { client_id => 'good-app' })
--- error_code: 200
--- response_body
ok



=== TEST 11: an active user of the directory passes
--- directory
--- more_headers eval
main::bearer(sub => 'u-active')
--- error_code: 200
--- response_body
ok



=== TEST 12: a disabled account is refused with 403, no challenge
--- directory
--- more_headers eval
main::bearer(sub => 'u-inactive')
--- request eval
["GET /t", "GET /t"]
--- error_code eval
[403, 403]
--- response_headers eval
["X-Cache: MISS\n!WWW-Authenticate", "X-Cache: HIT\n!WWW-Authenticate"]
--- response_body_like eval
[qr/"account disabled"/, qr/"account disabled"/]



=== TEST 13: an account whose start date is to come is refused
--- directory
--- more_headers eval
main::bearer(sub => 'u-future')
--- error_code: 403
--- response_body_like: "account not yet started"



=== TEST 14: an account whose end date has passed is refused
--- directory
--- more_headers eval
main::bearer(sub => 'u-ended')
--- error_code: 403
--- response_body_like: "account ended"



=== TEST 15: the end date is the last day the account works
--- directory
--- more_headers eval
main::bearer(sub => 'u-today')
--- error_code: 200
--- response_body
ok



=== TEST 16: a user not in the directory is refused once a directory is loaded
--- directory
--- more_headers eval
main::bearer(sub => 'nobody')
--- error_code: 403
--- response_body_like: "account unknown"



=== TEST 17: llmgw_state_unknown_user allow lets a user not in the directory in
--- directory
--- config
llmgw_state_unknown_user allow;
--- more_headers eval
main::bearer(sub => 'nobody')
--- error_code: 200
--- response_body
ok



=== TEST 18: llmgw_state_unknown_user deny without a directory refuses everyone
--- config
llmgw_state_unknown_user deny;
--- more_headers eval
main::bearer(sub => 'alice')
--- error_code: 403
--- response_body_like: "account unknown"



=== TEST 19: llmgw_state_user_claim: the user is named by another claim
--- directory
--- config
llmgw_state_user_claim username;
--- more_headers eval
main::bearer(sub => 'u-active', claims => { username => 'u-inactive' })
--- error_code: 403
--- response_body_like: "account disabled"



=== TEST 20: a nested claim names the user
--- directory
--- config
llmgw_state_user_claim ext.employee_no;
--- more_headers eval
main::bearer(sub => 'x', claims => { ext => { employee_no => 'u-active' } })
--- error_code: 200
--- response_body
ok



=== TEST 21: llmgw_state off skips the check
--- directory
--- config
llmgw_state off;
--- more_headers eval
main::bearer(sub => 'u-inactive')
--- error_code: 200
--- response_body
ok
