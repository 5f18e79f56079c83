# Copyright (C) llmgw authors
#
# The test tooling itself, no nginx: tools/llmgw-keygen, tools/llmgw-token,
# tools/jwt-libjwt.c and t/lib/LLMGW/Test.pm.  Every token is checked by
# PyJWT (Debian's python3-jwt, through /usr/bin/python3), an implementation
# independent of the one that signed it.
#
#     prove t/tools.t

use strict;
use warnings;

use Test::More;
use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(hmac_sha256);
use File::Temp qw(tempdir);
use JSON::PP ();
use MIME::Base64 qw(decode_base64 decode_base64url encode_base64url);

my ($tmp, $keys);

BEGIN {
    # a fresh key directory, so that its creation is tested too
    $tmp = tempdir('llmgw-tools-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    $keys = "$tmp/keys";
    $ENV{TEST_NGINX_LLMGW_KEYS} = $keys;
}

use LLMGW::Test qw(:all);

my $JSON = JSON::PP->new->canonical;
my $ROOT = llmgw_root();
my $KEYGEN = "$ROOT/tools/llmgw-keygen";
my $TOKEN = "$ROOT/tools/llmgw-token";

plan skip_all => "$PYTHON is missing" unless -x $PYTHON;

my @KEYS = qw(rsa rsa2 ec256 ec384 ec521 ed25519 rsa1024);


# ---------------------------------------------------------------------
# helpers

sub slurp {
    my ($path) = @_;
    open my $fh, '<:raw', $path or die "$path: $!";
    local $/;
    return scalar <$fh>;
}


sub mode {
    return sprintf '%04o', (stat $_[0])[2] & 07777;
}


sub parts {
    my ($token) = @_;
    return map { decode_base64url($_) } split /\./, $token, -1;
}


sub run_tool {
    my ($tool, @args) = @_;
    my ($status, $out, $err) = llmgw_run($PYTHON, $tool, @args);
    return ($status >> 8, $out, $err);
}


# Verifies tokens with PyJWT.  Each check: { token, pub => key file or
# jwks => file and kid, algs => [...], aud?, verify => 0 (claims only),
# jws => 1 (PyJWS: the payload need not be JSON), raw => 1 (RS256 checked
# by cryptography over the exact signing input) }.  Returns one hash per
# check: ok, error (the exception class), claims, header, payload (jws,
# in base64).
my $VERIFY = <<'PY';
import base64, json, sys
import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

def key_for(c):
    if "jwks" in c:
        for k in jwt.PyJWKSet.from_json(open(c["jwks"]).read()).keys:
            if k.key_id == c["kid"]:
                return k.key
        raise LookupError("kid not in jwks")
    return open(c["pub"], "rb").read()

out = []
for c in json.load(open(sys.argv[1])):
    r = {}
    try:
        if c.get("raw"):
            h, p, s = c["token"].split(".")
            sig = base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
            pub = serialization.load_pem_public_key(key_for(c))
            pub.verify(sig, (h + "." + p).encode(), padding.PKCS1v15(),
                       hashes.SHA256())
        elif c.get("jws"):
            r["payload"] = base64.b64encode(jwt.api_jws.decode(
                c["token"], key_for(c), algorithms=c["algs"])).decode()
        elif c.get("verify", 1) == 0:
            r["claims"] = jwt.decode(c["token"],
                                     options={"verify_signature": False})
            r["header"] = jwt.get_unverified_header(c["token"])
        else:
            kw = {"algorithms": c["algs"]}
            if "aud" in c:
                kw["audience"] = c["aud"]
            else:
                kw["options"] = {"verify_aud": False}
            r["claims"] = jwt.decode(c["token"], key_for(c), **kw)
            r["header"] = jwt.get_unverified_header(c["token"])
        r["ok"] = True
    except Exception as e:
        r["ok"] = False
        r["error"] = type(e).__name__
    out.append(r)
print(json.dumps(out))
PY


sub pyjwt {
    my (@checks) = @_;

    my $in = "$tmp/checks.json";
    open my $fh, '>', $in or die "$in: $!";
    print $fh $JSON->encode(\@checks);
    close $fh;

    my ($status, $out, $err) = llmgw_run($PYTHON, '-c', $VERIFY, $in);
    die "verifier failed: $err" if $status != 0;

    my $res = JSON::PP->new->decode($out);
    die "verifier: wrong answer count" unless @$res == @checks;

    return @$res;
}


sub pyjwt1 {
    return (pyjwt(@_))[0];
}


# ---------------------------------------------------------------------
# llmgw-keygen

is(llmgw_keys_dir(), $keys, 'keys dir comes from TEST_NGINX_LLMGW_KEYS');
is($ENV{TEST_NGINX_LLMGW_KEYS}, $keys, 'env points at the keys dir');
ok(-d $keys, 'use LLMGW::Test created the keys dir');
is(mode($keys), '0700', 'keys dir is 0700');

for my $k (@KEYS) {
    is(mode("$keys/$k.key"), '0600', "$k.key is 0600");
    is(mode("$keys/$k.pub"), '0644', "$k.pub is 0644");
    like(slurp("$keys/$k.key"), qr/\A-----BEGIN PRIVATE KEY-----\n/,
         "$k.key is PKCS#8 PEM");
    like(slurp("$keys/$k.pub"), qr/\A-----BEGIN PUBLIC KEY-----\n/,
         "$k.pub is SPKI PEM");
}

my %jwks;
for my $f (qw(jwks jwks-rotated jwks-noalg jwks-ec521 jwks-rsa1024)) {
    is(mode("$keys/$f.json"), '0644', "$f.json is 0644");
    $jwks{$f} = JSON::PP->new->decode(slurp("$keys/$f.json"))->{keys};
}

sub summary {
    return join ' ', map {
        join ':', $_->{kid}, $_->{kty}, $_->{crv} // '-', $_->{alg} // '-',
                  $_->{use}
    } @{ $_[0] };
}

is(summary($jwks{jwks}),
   'rsa1:RSA:-:RS256:sig rsa1-ps:RSA:-:PS256:sig ec1:EC:P-256:ES256:sig '
   . 'ec384:EC:P-384:ES384:sig ed1:OKP:Ed25519:EdDSA:sig',
   'jwks.json: kids, types, curves, algs, use');
is(summary($jwks{'jwks-rotated'}), 'rsa2:RSA:-:RS256:sig',
   'jwks-rotated.json: rsa2 only');
is(summary($jwks{'jwks-noalg'}), 'rsa1:RSA:-:-:sig',
   'jwks-noalg.json: rsa1 without alg');
ok(!exists $jwks{'jwks-noalg'}[0]{alg}, 'jwks-noalg.json has no alg member');
is(summary($jwks{'jwks-ec521'}), 'ec521:EC:P-521:ES512:sig',
   'jwks-ec521.json');
is(summary($jwks{'jwks-rsa1024'}), 'rsa1024:RSA:-:RS256:sig',
   'jwks-rsa1024.json');

my $n = $jwks{jwks}[0]{n};
is($jwks{jwks}[1]{n}, $n, 'rsa1-ps is the same key as rsa1');
is($jwks{'jwks-noalg'}[0]{n}, $n, 'jwks-noalg holds the rsa1 key');
isnt($jwks{'jwks-rotated'}[0]{n}, $n, 'rsa2 is another key');
is(length decode_base64url($n), 256, 'rsa is 2048 bits');
is(length decode_base64url($jwks{'jwks-rsa1024'}[0]{n}), 128,
   'rsa1024 is 1024 bits');
is(length decode_base64url($jwks{jwks}[2]{x}), 32, 'P-256 x is 32 bytes');
is(length decode_base64url($jwks{jwks}[3]{y}), 48, 'P-384 y is 48 bytes');
is(length decode_base64url($jwks{'jwks-ec521'}[0]{x}), 66,
   'P-521 x is 66 bytes');
is(length decode_base64url($jwks{jwks}[4]{x}), 32, 'Ed25519 x is 32 bytes');
ok(!grep({ exists $_->{d} || exists $_->{p} } map { @$_ } values %jwks),
   'no private member in any JWKS');

{
    my %before = map { $_ => slurp("$keys/$_") }
                 map { ("$_.key", "$_.pub") } @KEYS;
    my ($rc, $out, $err) = run_tool($KEYGEN, $keys);
    is($rc, 0, 'keygen again succeeds');
    unlike($out, qr/^created/m, 'keygen again creates nothing');
    is_deeply({ map { $_ => slurp("$keys/$_") } keys %before }, \%before,
              'keygen again keeps every key');

    my $d2 = "$tmp/keys2";
    ($rc) = run_tool($KEYGEN, '-q', $d2);
    is($rc, 0, 'keygen in a second dir');
    my $old = slurp("$d2/rsa.key");
    my $oldj = slurp("$d2/jwks.json");
    isnt($old, $before{'rsa.key'}, 'each dir gets its own keys');
    ($rc) = run_tool($KEYGEN, '-q', '--force', $d2);
    is($rc, 0, 'keygen --force succeeds');
    isnt(slurp("$d2/rsa.key"), $old, '--force replaces rsa.key');
    isnt(slurp("$d2/jwks.json"), $oldj, '--force rewrites jwks.json');
    is(mode("$d2/rsa.key"), '0600', 'replaced key is 0600');

    my $d3 = "$tmp/keys3";
    mkdir $d3, 0700 or die;
    open my $fh, '>', "$d3/rsa.key" or die;
    print $fh "-----BEGIN PRIVATE KEY-----\nSECRETSECRET\n"
              . "-----END PRIVATE KEY-----\n";
    close $fh;
    ($rc, $out, $err) = run_tool($KEYGEN, $d3);
    is($rc, 2, 'keygen refuses a broken existing key');
    like($err, qr{rsa\.key .*not an unencrypted PEM private key},
         'and says which file');
    unlike($err, qr/SECRET/, 'without echoing the file');
}


# ---------------------------------------------------------------------
# llmgw-token: every alg, verified by PyJWT with the PEM and the JWKS

my %ALG_KEY = (RS256 => 'rsa', RS384 => 'rsa', RS512 => 'rsa',
               PS256 => 'rsa', PS384 => 'rsa', PS512 => 'rsa',
               ES256 => 'ec256', ES384 => 'ec384', ES512 => 'ec521',
               EdDSA => 'ed25519');
my %ALG_KID = (RS256 => 'rsa1', RS384 => 'rsa1', RS512 => 'rsa1',
               PS256 => 'rsa1-ps', PS384 => 'rsa1', PS512 => 'rsa1',
               ES256 => 'ec1', ES384 => 'ec384', ES512 => 'ec521',
               EdDSA => 'ed1');
my %ALG_JWKS = (RS256 => 'jwks', RS384 => 'jwks-noalg',
                RS512 => 'jwks-noalg', PS256 => 'jwks',
                PS384 => 'jwks-noalg', PS512 => 'jwks-noalg',
                ES256 => 'jwks', ES384 => 'jwks', ES512 => 'jwks-ec521',
                EdDSA => 'jwks');
my %SIG_LEN = (ES256 => 64, ES384 => 96, ES512 => 132, EdDSA => 64);
my @ALGS = sort keys %ALG_KEY;

my $now = time;
my %claims = (iss => 'https://idp.example.com/', sub => 'alice',
              aud => 'llmgw', scope => 'text claude', jti => 'j-1');

my (@checks, %tok);
for my $alg (@ALGS) {
    my $t = llmgw_token(%claims, key => $ALG_KEY{$alg}, alg => $alg,
                        scp => ['text', 'audio'], amr => 'pwd,mfa',
                        typ => 'at+jwt', now => $now,
                        claims => { email => 'a@example.com', n => 5,
                                    groups => ['eng'], raw => \'{"x":null}' },
                        headers => { x => 1 });
    $tok{$alg} = $t;
    push @checks,
        { token => $t, pub => "$keys/$ALG_KEY{$alg}.pub", algs => [$alg],
          aud => 'llmgw' },
        { token => $t, jwks => "$keys/$ALG_JWKS{$alg}.json",
          kid => $ALG_KID{$alg}, algs => [$alg], aud => 'llmgw' };
}

my @res = pyjwt(@checks);

for my $alg (@ALGS) {
    my ($pem, $jwk) = splice @res, 0, 2;
    ok($pem->{ok}, "$alg token verifies with the PEM")
        or diag explain $pem;
    ok($jwk->{ok}, "$alg token verifies with $ALG_JWKS{$alg}.json "
                   . "kid $ALG_KID{$alg}") or diag explain $jwk;
    is_deeply($pem->{header}, { alg => $alg, kid => $ALG_KID{$alg},
                                typ => 'at+jwt', x => 1 },
              "$alg header, default kid from the JWKS");
    is_deeply($pem->{claims},
              { %claims, iat => $now, exp => $now + 300,
                scp => ['text', 'audio'], amr => ['pwd', 'mfa'],
                email => 'a@example.com', n => 5, groups => ['eng'],
                raw => { x => undef } },
              "$alg claims");
    is(length((parts($tok{$alg}))[2]), $SIG_LEN{$alg},
       "$alg signature is $SIG_LEN{$alg} bytes (JOSE form)")
        if $SIG_LEN{$alg};
}

{
    my $t = llmgw_token(key => 'rsa');
    my @r = pyjwt({ token => $t, pub => "$keys/rsa2.pub", algs => ['RS256'] },
                  { token => $tok{ES256}, pub => "$keys/ec256.pub",
                    algs => ['ES384'] },
                  { token => $tok{RS256}, pub => "$keys/rsa.pub",
                    algs => ['RS256'], aud => 'other' },
                  { token => $t, pub => "$keys/rsa.pub", algs => ['RS256'] });
    is($r[0]{error}, 'InvalidSignatureError', 'the wrong key fails');
    is($r[1]{error}, 'InvalidAlgorithmError', 'an alg not allowed fails');
    is($r[2]{error}, 'InvalidAudienceError', 'another audience fails');
    ok($r[3]{ok}, 'defaults: key rsa verifies');
    is_deeply($r[3]{header}, { alg => 'RS256', kid => 'rsa1' },
              'defaults: RS256, kid rsa1, no typ');
    is($r[3]{claims}{exp} - $r[3]{claims}{iat}, 300,
       'defaults: exp is iat + 300');
    ok(abs($r[3]{claims}{iat} - time) <= 5, 'defaults: iat is now');
    is_deeply([sort keys %{ $r[3]{claims} }], ['exp', 'iat'],
              'defaults: iat and exp only');
}

{
    my @r = pyjwt(
        map { { token => $_, pub => "$keys/rsa.pub", algs => ['RS256'] } }
        llmgw_token(exp => -60), llmgw_token(nbf => 120),
        llmgw_token(exp => undef, iat => undef, kid => undef,
                    aud => ['a', 'b']),
        llmgw_token(iat => -30, no_kid => 1, kid => 'ignored'),
        llmgw_token(kid => 'other', now => $now - 1000, exp => 1100));
    is($r[0]{error}, 'ExpiredSignatureError', 'exp => -60 is expired');
    is($r[1]{error}, 'ImmatureSignatureError', 'nbf => 120 is not yet valid');
    is_deeply($r[2]{claims}, { aud => ['a', 'b'] },
              'no exp, no iat; aud array');
    is_deeply($r[2]{header}, { alg => 'RS256' }, 'kid => undef: no kid');
    ok(abs($r[3]{claims}{iat} - (time - 30)) <= 5, 'iat => -30');
    ok(!exists $r[3]{header}{kid}, 'no_kid wins over kid');
    is($r[4]{header}{kid}, 'other', 'explicit kid');
    is($r[4]{claims}{exp}, $now + 100, 'now shifts the relative times');
}


# ---------------------------------------------------------------------
# negative-test modes

{
    my $t = llmgw_token(none => 1, sub => 'mallory');
    my ($h, $p, $s) = split /\./, $t, -1;
    is(decode_base64url($h), '{"alg":"none"}', 'none: header');
    is($s, '', 'none: empty signature');
    like($t, qr/\.\z/, 'none: token ends with the dot');
    my @r = pyjwt({ token => $t, pub => "$keys/rsa.pub", algs => ['RS256'] },
                  { token => $t, verify => 0 });
    ok(!$r[0]{ok}, "none: PyJWT refuses it ($r[0]{error})");
    is($r[1]{claims}{sub}, 'mallory', 'none: claims readable');
}

{
    my $t = llmgw_token(hs256_pubkey => 'rsa', sub => 'mallory');
    my ($h, $p, $s) = split /\./, $t, -1;
    is_deeply(JSON::PP->new->decode(decode_base64url($h)),
              { alg => 'HS256', kid => 'rsa1' },
              'hs256_pubkey: HS256 with the RSA key\'s kid');
    is($s, encode_base64url(hmac_sha256("$h.$p", slurp("$keys/rsa.pub"))),
       'hs256_pubkey: HMAC-SHA256 keyed with the public key PEM bytes');
    my $r = pyjwt1({ token => $t, pub => "$keys/rsa.pub",
                     algs => ['RS256'] });
    ok(!$r->{ok}, "hs256_pubkey: PyJWT refuses it ($r->{error})");
}

{
    # RS256 is deterministic: same time, same claims, same token
    my %base = (key => 'rsa', sub => 'alice', scope => 'text', now => $now);
    my $orig = llmgw_token(%base);
    is(llmgw_token(%base), $orig, 'RS256 with a fixed now is reproducible');

    my $tp = llmgw_token(%base, tamper => 'payload');
    my $ts = llmgw_token(%base, tamper => 'signature');
    my @o = split /\./, $orig;
    my @p = split /\./, $tp;
    my @s = split /\./, $ts;

    is($p[0], $o[0], 'tamper payload: header unchanged');
    is($p[2], $o[2], 'tamper payload: signature unchanged');
    my ($po, $pp) = map { decode_base64url($_) } $o[1], $p[1];
    is(length $pp, length $po, 'tamper payload: same length');
    is(scalar(grep { substr($po, $_, 1) ne substr($pp, $_, 1) }
              0 .. length($po) - 1), 1,
       'tamper payload: exactly one byte differs');
    ok(eval { JSON::PP->new->decode($pp); 1 },
       'tamper payload: still valid JSON');

    is($s[0] . $s[1], $o[0] . $o[1], 'tamper signature: header, payload '
                                     . 'unchanged');
    my ($so, $ss) = map { decode_base64url($_) } $o[2], $s[2];
    is(length $ss, length $so, 'tamper signature: same length');
    is(scalar(grep { substr($so, $_, 1) ne substr($ss, $_, 1) }
              0 .. length($so) - 1), 1,
       'tamper signature: exactly one byte differs');

    my $es = llmgw_token(key => 'ec256', tamper => 'signature');
    is(length((parts($es))[2]), 64, 'tamper ES256 signature: still 64 bytes');

    my @r = pyjwt({ token => $orig, pub => "$keys/rsa.pub", algs => ['RS256'] },
               { token => $tp, pub => "$keys/rsa.pub", algs => ['RS256'] },
               { token => $ts, pub => "$keys/rsa.pub", algs => ['RS256'] },
               { token => $es, pub => "$keys/ec256.pub", algs => ['ES256'] });
    ok($r[0]{ok}, 'untampered token verifies');
    is($r[1]{error}, 'InvalidSignatureError', 'tampered payload fails '
                                              . 'on the signature');
    is($r[2]{error}, 'InvalidSignatureError', 'tampered signature fails');
    is($r[3]{error}, 'InvalidSignatureError', 'tampered ES256 fails');

    eval { llmgw_token(none => 1, tamper => 'signature') };
    like($@, qr/no signature/, 'tamper signature on alg none dies');
}

{
    my $t = llmgw_token(pad => 65536);
    my $c = (llmgw_jwt_decode($t))[1];
    is(length $c->{pad}, 65536, 'pad: a claim of 65536 bytes');
    cmp_ok(length $t, '>', 65536 * 4 / 3, 'pad: the token grows with it');

    my @len = map { length llmgw_token(pad_to => $_) } 65536, 65537, 65538;
    is($len[0], 65536, 'pad_to 65536: exactly 64 KiB');
    ok($len[1] == 65537 || $len[1] == 65538, 'pad_to 65537: 64 KiB + 1 '
       . "(or + 2 where base64url cannot) ($len[1])");
    is($len[2], 65538, 'pad_to 65538');
    my $e = llmgw_token(key => 'ec256', pad_to => 1000);
    is(length $e, 1000, 'pad_to with ES256 (randomized signature)');

    my @r = pyjwt({ token => $t, pub => "$keys/rsa.pub", algs => ['RS256'] },
                  { token => $e, pub => "$keys/ec256.pub",
                    algs => ['ES256'] });
    ok($r[0]{ok} && $r[1]{ok}, 'padded tokens verify');

    eval { llmgw_token(pad_to => 10) };
    like($@, qr/pad-to 10: the token is \d+ characters/,
         'pad_to below the minimum dies');
}

{
    my $hdr = '{"alg":"RS256","kid":"rsa1"}';
    my $dup = '{"sub":"a","sub":"b"}';
    my $bad = "{\"sub\":\"\xff\xfe\",";
    my $t1 = llmgw_token(raw_header => $hdr, raw_payload => $dup);
    my $t2 = llmgw_token(raw_payload => $bad);
    my $t3 = llmgw_token(raw_header => 'not json', raw_payload => '{}');
    my $t4 = llmgw_token(key => 'ec384', alg => 'ES384',
                         headers => { alg => 'ES256' });

    is((parts($t1))[0], $hdr, 'raw_header: exact header bytes');
    is((parts($t1))[1], $dup, 'raw_payload: duplicate keys kept');
    is((parts($t2))[1], $bad, 'raw_payload: invalid JSON and UTF-8 kept');
    is((parts($t3))[0], 'not json', 'raw_header: not JSON');
    is((llmgw_jwt_decode($t4))[0]{alg}, 'ES256', 'headers: alg can lie');
    is(length((parts($t4))[2]), 96, 'headers: signed with ES384 anyway');

    my @r = pyjwt({ token => $t1, pub => "$keys/rsa.pub", algs => ['RS256'],
                    jws => 1 },
                  { token => $t2, pub => "$keys/rsa.pub", algs => ['RS256'],
                    jws => 1 },
                  { token => $t3, pub => "$keys/rsa.pub", raw => 1 },
                  { token => $t3, pub => "$keys/rsa2.pub", raw => 1 });
    ok($r[0]{ok}, 'raw: signature over the exact bytes verifies');
    is(decode_base64($r[0]{payload}), $dup,
       'raw: PyJWS returns the same payload');
    is(decode_base64($r[1]{payload}), $bad,
       'raw: PyJWS returns the same invalid payload');
    ok($r[1]{ok}, 'raw: invalid payload signed correctly');
    ok($r[2]{ok}, 'raw: invalid header signed correctly');
    ok(!$r[3]{ok}, 'raw: and not by another key');
}


# ---------------------------------------------------------------------
# libjwt cross-check

{
    my %c = (iss => 'https://idp.example.com/', sub => 'bob',
             aud => 'llmgw', scope => 'text', now => $now);
    my $rs = llmgw_libjwt_token(%c, key => 'rsa',
                                claims => { groups => ['eng'] });
    ok(-x "$keys/jwt-libjwt", 'libjwt tool compiled into the keys dir');
    my $es = llmgw_libjwt_token(%c, key => 'ec256', scp => 'a,b');
    my $e3 = llmgw_libjwt_token(%c, key => 'ec384', kid => undef);

    is(length((parts($es))[2]), 64, 'libjwt ES256: JOSE R||S, 64 bytes');

    my @r = pyjwt(
        { token => $rs, pub => "$keys/rsa.pub", algs => ['RS256'],
          aud => 'llmgw' },
        { token => $rs, jwks => "$keys/jwks.json", kid => 'rsa1',
          algs => ['RS256'], aud => 'llmgw' },
        { token => $es, pub => "$keys/ec256.pub", algs => ['ES256'],
          aud => 'llmgw' },
        { token => $es, jwks => "$keys/jwks.json", kid => 'ec1',
          algs => ['ES256'], aud => 'llmgw' },
        { token => $e3, pub => "$keys/ec384.pub", algs => ['ES384'],
          aud => 'llmgw' },
        { token => $rs, pub => "$keys/rsa2.pub", algs => ['RS256'],
          aud => 'llmgw' });

    ok($r[0]{ok}, 'libjwt RS256 verifies with the PEM');
    ok($r[1]{ok}, 'libjwt RS256 verifies with jwks.json rsa1');
    ok($r[2]{ok}, 'libjwt ES256 verifies with the PEM');
    ok($r[3]{ok}, 'libjwt ES256 verifies with jwks.json ec1');
    ok($r[4]{ok}, 'libjwt ES384 verifies');
    is($r[5]{error}, 'InvalidSignatureError', 'libjwt RS256, wrong key fails');
    is_deeply($r[0]{header}, { alg => 'RS256', kid => 'rsa1', typ => 'JWT' },
              'libjwt RS256 header');
    is_deeply($r[0]{claims},
              { iss => $c{iss}, sub => 'bob', aud => 'llmgw',
                scope => 'text', iat => $now, exp => $now + 300,
                groups => ['eng'] }, 'libjwt RS256 claims');
    is_deeply($r[2]{claims}{scp}, ['a', 'b'], 'libjwt ES256 scp');
    is_deeply($r[4]{header}, { alg => 'ES384', typ => 'JWT' },
              'libjwt: kid => undef gives no kid');

    eval { llmgw_libjwt_token(alg => 'PS256') };
    like($@, qr/not one of/, 'libjwt: PS256 refused');
    eval { llmgw_libjwt_token(typ => 'at+jwt') };
    like($@, qr/always writes "typ":"JWT"/, 'libjwt: other typ refused');
    eval { llmgw_libjwt_token(pad => 1) };
    like($@, qr/unknown option "pad"/, 'libjwt: unknown option refused');
}


# ---------------------------------------------------------------------
# errors and --help

{
    my @cases = (
        [['--key', "$keys/rsa.key", '--alg', 'HS256'], qr/invalid choice/,
         'unknown alg'],
        [['--key', "$keys/nope.key"], qr/cannot read key .*nope\.key/,
         'missing key file'],
        [['--scope', 'text'], qr/--key FILE is required/, 'no key'],
        [['--key', "$keys/ec256.key", '--alg', 'RS256'],
         qr/needs an RSA key/, 'EC key for RS256'],
        [['--key', "$keys/ec384.key", '--alg', 'ES256'],
         qr/needs an EC key on P-256/, 'P-384 key for ES256'],
        [['--key', "$keys/rsa.pub"], qr/not an unencrypted PEM private key/,
         'public key as --key'],
        [['--key', "$keys/rsa.key", '--claim', 'email=a@b'],
         qr/--claim email: the value is not JSON/, 'claim value not JSON'],
        [['--key', "$keys/rsa.key", '--header', 'novalue'],
         qr/expected name=jsonvalue/, 'header without ='],
        [['--key', "$keys/rsa.key", '--exp', '5', '--no-exp'],
         qr/not allowed with/, '--exp with --no-exp'],
        [['--hs256-with-pubkey', "$keys/rsa.pub", '--alg', 'RS256'],
         qr/signs with HS256/, 'hs256 mode with another alg'],
        [['--key', "$keys/rsa.key", '--raw-payload', '{}', '--pad', '3'],
         qr/--pad/, 'pad with a raw payload'],
        [['--key', "$keys/rsa.key", '--bogus'], qr/unrecognized/,
         'unknown option'],
    );

    for my $c (@cases) {
        my ($rc, $out, $err) = run_tool($TOKEN, @{ $c->[0] });
        is($rc, 2, "llmgw-token $c->[2]: exit 2");
        like($err, $c->[1], "llmgw-token $c->[2]: message");
        is($out, '', "llmgw-token $c->[2]: nothing on stdout");
    }

    my $fake = "$tmp/fake.key";
    open my $fh, '>', $fake or die;
    print $fh "-----BEGIN PRIVATE KEY-----\nSECRETSECRET\n"
              . "-----END PRIVATE KEY-----\n";
    close $fh;
    my ($rc, $out, $err) = run_tool($TOKEN, '--key', $fake);
    is($rc, 2, 'broken key file: exit 2');
    unlike($err, qr/SECRET/, 'broken key file: content not echoed');

    eval { llmgw_token(key => 'ec256', alg => 'RS256') };
    like($@, qr/^llmgw_token: llmgw-token: error: alg RS256 needs an RSA/,
         'llmgw_token dies with the tool\'s message');
    eval { llmgw_token(kid => 'a', scpoe => 'text') };
    like($@, qr/unknown option "scpoe"/, 'llmgw_token refuses a typo');

    ($rc, $out, $err) = run_tool($TOKEN, '--help');
    is($rc, 0, 'llmgw-token --help exits 0');
    for my $opt (qw(--key --alg --kid --no-kid --typ --header --iss --aud
                    --sub --scope --scp --amr --jti --claim --exp --no-exp
                    --iat --no-iat --nbf --now --hs256-with-pubkey --tamper
                    --raw-header --raw-payload --pad --pad-to))
    {
        like($out, qr/^\s+\Q$opt\E\b/m, "--help documents $opt");
    }

    ($rc, $out) = run_tool($KEYGEN, '--help');
    is($rc, 0, 'llmgw-keygen --help exits 0');
    like($out, qr/--force/, 'llmgw-keygen --help documents --force');
}

done_testing();
