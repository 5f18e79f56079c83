package LLMGW::Certs;

# Copyright (C) llmgw authors
#
# A test CA made with openssl for the certificate-bound token suites
# (t/mtls.t, t/fapi.t): a server certificate and two client certificates,
# alice and bob, in a temporary directory that goes when the test ends.
#
#     use LLMGW::Certs;
#     my $c = llmgw_certs();   # sets $TEST_NGINX_MTLS_CERTS (the directory)
#     $c->{alice}{x5t}         # base64url SHA-256 of the DER: cnf.x5t#S256
#     $c->{alice}{b64}         # base64 of the DER: a Client-Cert value
#
# Files: ca.crt, server.crt/.key, alice.crt/.key, bob.crt/.key (P-256).

use strict;
use warnings;

use Exporter ();
use Digest::SHA qw(sha256);
use File::Spec;
use File::Temp ();
use MIME::Base64 qw(encode_base64 encode_base64url);

our $VERSION = '1.0';
our @ISA = ('Exporter');
our @EXPORT = qw(llmgw_certs);

my $made;


sub _openssl {
    my @cmd = ('openssl', @_);

    system(@cmd) == 0
        or die "llmgw_certs: @cmd failed: " . ($? >> 8) . "\n";
}


sub _der {
    my ($crt) = @_;

    open(my $fh, '-|', 'openssl', 'x509', '-in', $crt, '-outform', 'DER')
        or die "llmgw_certs: openssl x509: $!\n";
    binmode $fh;
    local $/;
    my $der = <$fh>;
    close $fh or die "llmgw_certs: openssl x509 -outform DER failed\n";

    return $der;
}


sub llmgw_certs {
    return $made if $made;

    my $dir = File::Temp::tempdir('llmgw-certs.XXXXXX', TMPDIR => 1,
                                  CLEANUP => 1);
    my $f = sub { File::Spec->catfile($dir, $_[0]) };

    open(my $null, '>', File::Spec->devnull) or die;
    open(my $saved, '>&', \*STDERR) or die;
    open(STDERR, '>&', $null) or die;

    my @ec = ('-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
              '-nodes');

    _openssl('req', '-x509', @ec, '-keyout', $f->('ca.key'),
             '-out', $f->('ca.crt'), '-subj', '/CN=llmgw test CA',
             '-days', '2');

    for my $name (qw(server alice bob)) {
        _openssl('req', @ec, '-keyout', $f->("$name.key"),
                 '-out', $f->("$name.csr"),
                 '-subj', $name eq 'server' ? '/CN=localhost' : "/CN=$name");
        _openssl('x509', '-req', '-in', $f->("$name.csr"),
                 '-CA', $f->('ca.crt'), '-CAkey', $f->('ca.key'),
                 '-CAcreateserial', '-out', $f->("$name.crt"), '-days', '2');
    }

    open(STDERR, '>&', $saved) or die;

    $made = { dir => $dir };

    for my $name (qw(alice bob)) {
        my $der = _der($f->("$name.crt"));

        $made->{$name} = {
            x5t => encode_base64url(sha256($der)),
            b64 => encode_base64($der, ''),
        };
    }

    $ENV{TEST_NGINX_MTLS_CERTS} = $dir;

    return $made;
}


1;
