# nginx -t on the claims directives: invalid claim paths refused by every
# directive that names a claim, a JWT location without an issuer or an
# audience check refused (naming the missing directive), and every recipe
# of examples/idp/ accepted, in a location and in a server.  Plain
# Test::More as t/config.t: one nginx -t per case.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use LLMGW::Test qw(:all);
use LLMGW::Nginx;

my $modules = $ENV{TEST_NGINX_LOAD_MODULES}
    or plan skip_all => 'TEST_NGINX_LOAD_MODULES is not set';
my $keys = llmgw_keys_dir();
my $root = llmgw_root();
my $dir = nginx_prefix();

sub check {
    my ($http) = @_;

    nginx_conf($dir, $http);

    return nginx_check($dir);
}

sub accepted {
    my ($http, $what) = @_;
    my ($ok, $out) = check($http);

    ok($ok, "$what: accepted") or diag($out);
}

sub refused {
    my ($http, $pattern, $what) = @_;
    my ($ok, $out) = check($http);

    ok(!$ok, "$what: refused");
    like($out, $pattern, "$what: says why") or diag($out);
}

# a JWT location with keys, issuer and audience, plus $inside
my $loc = sub {
    my ($inside) = @_;
    return "server { listen 127.0.0.1:1; location / { llmgw_auth jwt; "
           . "llmgw_jwt_keys $keys/jwks.json; "
           . "llmgw_jwt_issuer https://idp.example.com/; "
           . "llmgw_jwt_audience llmgw; $inside } }";
};


# the issuer and audience checks are required

accepted($loc->(''), 'a JWT location with issuer and audience');

accepted("server { listen 127.0.0.1:1; location / { llmgw_auth jwt; "
         . "llmgw_jwt_keys $keys/jwks.json; llmgw_jwt_issuer any; "
         . "llmgw_jwt_audience any; } }",
         'issuer and audience "any"');

accepted("llmgw_jwt_issuer https://idp.example.com/;\n"
         . "server { listen 127.0.0.1:1; llmgw_jwt_audience llmgw;\n"
         . "  location / { llmgw_auth jwt; llmgw_jwt_keys $keys/jwks.json; } }",
         'issuer and audience inherited from http and server');

refused("server { listen 127.0.0.1:1; location / { llmgw_auth jwt; "
        . "llmgw_jwt_keys $keys/jwks.json; "
        . "llmgw_jwt_audience llmgw; } }",
        qr/llmgw_jwt_issuer/, 'a JWT location without an issuer check');

refused("server { listen 127.0.0.1:1; location / { llmgw_auth jwt; "
        . "llmgw_jwt_keys $keys/jwks.json; "
        . "llmgw_jwt_issuer https://idp.example.com/; } }",
        qr/llmgw_jwt_audience/, 'a JWT location without an audience check');

refused("server { listen 127.0.0.1:1; location / { llmgw_auth jwt; "
        . "llmgw_jwt_keys $keys/jwks.json; "
        . "llmgw_jwt_audience_claim client_id; "
        . "llmgw_jwt_issuer https://idp.example.com/; } }",
        qr/llmgw_jwt_audience\b/,
        'an audience claim without an audience to check');


# claim paths: accepted forms

accepted($loc->('llmgw_jwt_claim resource_access."llm.gateway".roles text; '
                . 'llmgw_jwt_require_claim \'"https://llmgw.example.com/department"\'; '
                . 'llmgw_scope_claim realm_access.roles prefix=llm-; '
                . 'llmgw_scope_claim cognito:groups; '
                . 'llmgw_jwt_audience_claim client_id cid azp;'),
         'quoted, nested and plain claim paths');

accepted("llmgw_claim_variable \$kc_roles resource_access.\"llm.gateway\".roles;\n"
         . "llmgw_claim_variable \$department '\"https://llmgw.example.com/department\"';\n"
         . $loc->('add_header X-Roles "$kc_roles $department";'),
         'llmgw_claim_variable with quoted paths');

accepted($loc->('llmgw_jwt_claim \'"a\\\\\\"b\\\\\\\\c"\' x;'),
         'a quoted name with \" and \\\\ escapes');


# claim paths: refused forms, by every directive that takes one

my @bad = (
    ['a..b',                'an empty name between dots'],
    ['.sub',                'a leading dot'],
    ['sub.',                'a trailing dot'],
    ['\'"llm.gateway\'',    'an unterminated quote'],
    ['\'"llm.gateway"x\'',  'text after a closing quote'],
    ['a."b"c.d',            'text after a closing quote inside a path'],
);

my %directive = (
    'llmgw_jwt_claim'          => sub { "llmgw_jwt_claim $_[0] x;" },
    'llmgw_jwt_require_claim'  => sub { "llmgw_jwt_require_claim sub $_[0];" },
    'llmgw_scope_claim'        => sub { "llmgw_scope_claim scope $_[0];" },
    'llmgw_jwt_audience_claim' => sub { "llmgw_jwt_audience_claim $_[0];" },
);

for my $b (@bad) {
    my ($path, $what) = @$b;

    # the path as the module sees it, after nginx's own quoting
    (my $shown = $path) =~ s/^'(.*)'$/$1/;

    for my $name (sort keys %directive) {
        refused($loc->($directive{$name}->($path)), qr/\Q$shown\E/,
                "$name: $what");
    }

    refused("llmgw_claim_variable \$v $path;\n" . $loc->(''),
            qr/\Q$shown\E/, "llmgw_claim_variable: $what");
}

refused($loc->('llmgw_jwt_claim token_use;'),
        qr/invalid number of arguments/, 'llmgw_jwt_claim without a value');

refused($loc->('llmgw_claim_variable $v sub;'),
        qr/"llmgw_claim_variable" directive is not allowed here/,
        'llmgw_claim_variable in a location');


# the recipes: each accepted in a location and in a server, with keys

opendir my $dh, "$root/examples/idp" or die "$root/examples/idp: $!";
my @recipes = sort grep { /\.conf$/ } readdir $dh;
closedir $dh;

ok(scalar @recipes >= 5, 'examples/idp has the recipes')
    or diag(join ' ', @recipes);

for my $r (@recipes) {
    accepted("llmgw_scopes { all text audio video; "
             . "text claude openai.text gemini.text; "
             . "audio openai.stt openai.tts; "
             . "video video.generate video.analyze; }\n"
             . "server { listen 127.0.0.1:1;\n"
             . "  location / { llmgw_auth jwt; "
             . "llmgw_jwt_keys $keys/jwks.json;\n"
             . "    include $root/examples/idp/$r;\n"
             . "    llmgw_require_scope claude; } }",
             "examples/idp/$r in a location");

    accepted("server { listen 127.0.0.1:1; llmgw_auth jwt; "
             . "llmgw_jwt_keys $keys/jwks.json;\n"
             . "  include $root/examples/idp/$r;\n"
             . "  location / { } }",
             "examples/idp/$r in a server");
}

done_testing();
