# One DPoP replay zone serves every location, so a proof is remembered
# as long as the longest llmgw_dpop_window accepts its iat: two servers
# that take the same htu (one llmgw_dpop_url), one with a 1 s window and
# one with 300 s.  A proof seen by the short one is still a replay in the
# long one after the short window has passed (an entry kept for the
# location's own window would be forgotten then, and the proof taken
# again).  Plain Test::More: a wait between two requests.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(sleep);
use LLMGW::Test qw(:DEFAULT llmgw_dpop llmgw_dpop_jkt);
use LLMGW::Nginx;

plan skip_all => 'TEST_NGINX_LOAD_MODULES is not set'
    unless $ENV{TEST_NGINX_LOAD_MODULES};

my $keys = llmgw_keys_dir();
my $dir = nginx_prefix();
my ($short, $long) = (free_port(), free_port());

# the locations answer from a file (a return would answer before the
# access phase)
my $file = <<"_EOC_";
            llmgw_auth jwt;
            llmgw_jwt_keys $keys/jwks.json;
            llmgw_dpop required;
            llmgw_dpop_url https://api.example.com;
            root $dir/html;
_EOC_

nginx_conf($dir, <<"_EOC_");
    llmgw_jwt_issuer any;
    llmgw_jwt_audience any;
    llmgw_dpop_zone llmgw_dpop:1m;

    server {
        listen 127.0.0.1:$short;
        llmgw_dpop_window 1s;

        location = /t.txt {
$file
        }
    }

    server {
        listen 127.0.0.1:$long;
        llmgw_dpop_window 300s;

        location = /t.txt {
$file
        }
    }
_EOC_

mkdir "$dir/html";
open my $fh, '>', "$dir/html/t.txt" or die $!;
print $fh "ok\n";
close $fh;

my $pid = nginx_start($dir, $short) or BAIL_OUT('nginx did not start');

my $http = HTTP::Tiny->new;
my $token = llmgw_token(sub => 'alice',
                        claims => { cnf => { jkt => llmgw_dpop_jkt('ec256') } });
my $now = time;
my $proof = llmgw_dpop(htu => 'https://api.example.com/t.txt',
                       token => $token, iat => 0, now => $now);
my %h = (Authorization => "DPoP $token", DPoP => $proof);

sub get {
    my ($port, %hdr) = @_;
    my $r = $http->get("http://127.0.0.1:$port/t.txt", { headers => \%hdr });
    return $r->{status} . ' ' . ($r->{headers}{'www-authenticate'} // '');
}

is(get($short, %h), '200 ', 'the short window\'s server takes the proof');

# the short window would have kept it until iat + 1 + 1
sleep 0.2 while time < $now + 3;

like(get($long, %h), qr/^401 DPoP .*"DPoP proof replayed"/,
     'the long window\'s server still knows it, after the short window');

my $fresh = llmgw_dpop(htu => 'https://api.example.com/t.txt',
                       token => $token, iat => -2);
is(get($long, Authorization => "DPoP $token", DPoP => $fresh), '200 ',
   'a fresh proof 2 s old is taken there');
like(get($short, Authorization => "DPoP $token", DPoP => $fresh),
     qr/^401 DPoP .*"DPoP proof (?:replayed|iat outside the accepted window)"/,
     'and refused by the short window\'s server');

nginx_stop($pid);

done_testing();
