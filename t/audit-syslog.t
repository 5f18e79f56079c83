# llmgw_audit syslog:server=...: nginx's syslog targets as audit sinks,
# beside files in the same location.  A UDP receiver on 127.0.0.1 gets one
# datagram a line: the syslog header nginx writes (PRI, time, host, tag)
# and the same JSON line as the file, without the chain's "chain", "seq"
# and "prev" (a chain is kept for files only).  A syslog target cannot be
# buffered.  Plain Test::More: a receiver socket in the test.

use strict;
use warnings;

BEGIN { push @INC, 't/lib' }
use Test::More;
use HTTP::Tiny;
use IO::Socket::INET;
use IO::Select;
use JSON::PP;
use LLMGW::Test qw(:all);
use LLMGW::Nginx;

for my $v (qw(TEST_NGINX_LOAD_MODULES TEST_NGINX_MOCK_PORT
              TEST_NGINX_MOCK_SECRETS))
{
    plan skip_all => "$v is not set (t/run-tests.sh sets it)"
        unless $ENV{$v};
}

my $secrets = $ENV{TEST_NGINX_MOCK_SECRETS};
my $mock = "127.0.0.1:$ENV{TEST_NGINX_MOCK_PORT}";
my $dir = nginx_prefix();
my $port = free_port();

my $udp = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                Proto => 'udp')
    or die "udp: $!";
my $sport = $udp->sockport;

open my $k, '>', "$dir/chain.key" or die $!;
print $k 'k' x 40, "\n";
close $k;

my $conf = sub {
    my ($extra) = @_;
    return <<"_EOC_";
    llmgw_audit_chain key=$dir/chain.key;
    llmgw_audit_zone audit:64k;

    server {
        listen 127.0.0.1:$port;

        location /azure/ {
            llmgw_audit $dir/logs/audit.log;
            llmgw_audit syslog:server=127.0.0.1:$sport,tag=llmgw_audit;
            llmgw_audit syslog:server=127.0.0.1:$sport,facility=local3,severity=notice,tag=second,nohostname;
            llmgw_provider azure_openai;
            llmgw_pass http://$mock;
            llmgw_pass_api_key file=$secrets/azure.key;
            llmgw_pass_strip_prefix /azure;
            llmgw_price gpt-4o input=2.5 output=10;
            $extra
        }
    }
_EOC_
};

# a syslog target with buffer= is refused
nginx_conf($dir, $conf->("llmgw_audit syslog:server=127.0.0.1:$sport "
                         . "buffer=4k;"));
my ($ok, $out) = nginx_check($dir);
ok(!$ok, 'syslog with buffer=: refused');
like($out, qr/audit lines to syslog cannot be buffered/, 'syslog with '
     . 'buffer=: says why') or diag($out);

nginx_conf($dir, $conf->(''));
my $pid = nginx_start($dir, $port) or BAIL_OUT('nginx did not start');
my $http = HTTP::Tiny->new(timeout => 10);
my $json = JSON::PP->new->utf8;

# what a start writes (the chain's checkpoint) goes to the file only
my $sel = IO::Select->new($udp);
ok(!$sel->can_read(0.3), 'nothing to syslog before a request');

my $r = $http->request('POST', "http://127.0.0.1:$port/azure/openai/"
                       . 'deployments/gpt-4o/chat/completions'
                       . '?api-version=2024-10-21',
                       { headers => { 'Content-Type' => 'application/json' },
                         content => '{"messages":[{"role":"user",'
                                    . '"content":"one two three"}]}' });
is($r->{status}, 200, 'a call: 200');

my @dgrams;
while (@dgrams < 3 && $sel->can_read(2)) {
    my $d;
    $udp->recv($d, 65536);
    push @dgrams, $d;
}

is(scalar @dgrams, 2, 'two datagrams, one per syslog sink');

my %by;
for my $d (@dgrams) {
    if ($d =~ /\A<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d (?:\S+ )?(\w+): (\{.*\})\z/s) {
        $by{$2} = { pri => $1, json => $3, raw => $d };
    }
}

ok($by{llmgw_audit} && $by{second}, 'both tags, the header as nginx '
   . 'writes it') or diag(explain(\@dgrams));
is($by{llmgw_audit}{pri}, 23 * 8 + 6, 'default facility local7, '
   . 'severity info');
is($by{second}{pri}, 19 * 8 + 5, 'facility local3, severity notice');
unlike($by{second}{raw}, qr/\A<\d+>\S+ +\S+ \S+ \S+ second:/,
       'nohostname: no host name');
unlike($by{llmgw_audit}{raw}, qr/\n/, 'no newline in the datagram');

my $line = eval { $json->decode($by{llmgw_audit}{json}) };
ok($line, 'the datagram holds a JSON line');

my @file = grep { !/"type":"checkpoint"/ }
           split /\n/, do { local (@ARGV, $/) = "$dir/logs/audit.log"; <> };
is(scalar @file, 1, 'the file has the line too');
my $fline = $json->decode($file[0]);

ok(defined $fline->{chain} && $fline->{seq} == 2,
   'the file line is chained (after the start checkpoint)');
ok(!exists $line->{chain} && !exists $line->{seq} && !exists $line->{prev},
   'the syslog line carries no chain fields');

delete @$fline{qw(chain seq prev)};
is_deeply($line, $fline, 'otherwise the same line');
is($line->{cost_micros}, 68, 'cost_micros: 3 x 2.5 + 6 x 10, rounded');
(my $text = $file[0]) =~ s/,"chain":.*\}\z/}/;
is($by{llmgw_audit}{json}, $text, 'byte for byte the same');

nginx_stop($pid);

done_testing();
