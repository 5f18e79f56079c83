package LLMGW::Mock;

# Copyright (C) llmgw authors
#
# What the block-format suites that call the mock provider through
# llmgw_pass share (t/usage.t, t/cost.t, t/include-usage.t): the paths and
# bodies of their requests, whose token counts the mock derives (input =
# the words of the request's text: $CHAT 3, $INVOKE 3 + "be brief",
# $CONVERSE 7, $GEMINI 2; t/mock/README.md), the locations that pass to
# it, and an access log line of the usage variables.
#
#     BEGIN { push @INC, 't/lib' }
#     use Test::Nginx::Socket;
#     use LLMGW::Mock;                  # $AZURE, $Q, $CHAT, ... in main
#
#     our $Locations = mock_locations(qw(azure-openai bedrock-claude))
#                      . <<'_EOC_';     # the suite's own locations
#
# The locations name the mock by $TEST_NGINX_MOCK_PORT and its fake keys
# by $TEST_NGINX_MOCK_SECRETS, which both runners put in the
# configuration.

use strict;
use warnings;

use Exporter 'import';

our @EXPORT = qw($AZURE $Q $MODEL $CHAT $INVOKE $CONVERSE $GEMINI
                 mock_locations mock_usage_log);

our $AZURE = '/azure-openai/openai/deployments';
our $Q = '?api-version=2024-10-21';
our $MODEL = 'anthropic.claude-3-5-sonnet-20240620-v1%3A0';

our $CHAT = '{"messages":[{"role":"user","content":"one two three"}]}';
our $INVOKE = '{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,'
              . '"system":"be brief","messages":[{"role":"user",'
              . '"content":"hi there you"}]}';
our $CONVERSE = '{"messages":[{"role":"user","content":[{"text":'
                . '"a b c d e f g"}]}]}';
our $GEMINI = '{"contents":[{"role":"user","parts":[{"text":"p q"}]}]}';

# a location's provider and credentials: its path passed whole to the mock
my %LOCATION = (
    'azure-openai' => [ 'azure_openai',
        'llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/azure.key;' ],
    'openai' => [ 'openai',
        'llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/openai.key;' ],
    'bedrock-claude' => [ 'bedrock',
        'llmgw_pass_host bedrock-runtime.us-east-1.amazonaws.com;',
        'llmgw_pass_aws_credentials '
        . 'file=$TEST_NGINX_MOCK_SECRETS/aws-credentials;' ],
    'gemini' => [ 'gemini',
        'llmgw_pass_api_key file=$TEST_NGINX_MOCK_SECRETS/gemini.key;' ],
);


# the locations named (azure-openai, openai, bedrock-claude, gemini), a
# blank line between them
sub mock_locations {
    my @out;

    for my $name (@_) {
        my ($provider, @lines) = @{ $LOCATION{$name}
                                    // die "no mock location $name\n" };

        push @out, "    location /$name/ {\n"
                   . '        llmgw_pass http://127.0.0.1:'
                   . "\$TEST_NGINX_MOCK_PORT;\n"
                   . "        llmgw_provider $provider;\n"
                   . join('', map { "        $_\n" } @lines)
                   . "    }\n";
    }

    return join "\n", @out;
}


# log_format llmgw_audit into the error log: "llmgw-audit id=X-Test-Id
# status= api= outcome= stream= usage= in= out= total=", then the fields
# given ('cache_read=$llmgw_usage_cache_read_tokens', ...), then ";"
sub mock_usage_log {
    my @fields = ('id=$http_x_test_id', 'status=$status', 'api=$llmgw_api',
                  'outcome=$llmgw_upstream_outcome', 'stream=$llmgw_stream',
                  'usage=$llmgw_usage_source',
                  'in=$llmgw_usage_input_tokens',
                  'out=$llmgw_usage_output_tokens',
                  'total=$llmgw_usage_total_tokens', @_);

    return "    log_format llmgw_audit 'llmgw-audit "
           . join(' ', @fields) . ";';\n"
           . "    access_log logs/error.log llmgw_audit;\n";
}


1;
