#!/bin/sh
# make-pki.sh OUTDIR — builds the test PKI of mod_certmap (POSIX sh, OpenSSL
# 3.0 command line, perl-base for two certificates whose names the openssl
# CLI cannot express).  Idempotent: a stamp records the hash of this script
# and the run is skipped when it matches; otherwise OUTDIR is rebuilt.
#
# Layout of OUTDIR (every client NAME has NAME.key, NAME.crt (PEM),
# NAME.der, NAME.b64 (IIS one-line base64 of the DER) and NAME.chain.pem
# (key-less: certificate followed by its issuing intermediates, if any)):
#   root.crt/.key          "CertMap Test Root CA"
#   inter.crt/.key         "CertMap Test Intermediate CA" (issued by root)
#   inter_expired.crt/.key intermediate whose notAfter is in the past
#   other_ca.crt/.key      an unrelated CA (not trusted)
#   forged_root.crt/.key   same subject DN bytes as root.crt, other key
#   server.crt/.key        CN=localhost, SAN localhost + 127.0.0.1 (RSA)
#   ca-bundle.pem          root + inter + inter_expired (SSLCACertificateFile)
#   crl-bundle.pem         CRLs of root, inter, inter_expired (SSLCARevocationFile)
#   crl/                   the same CRLs, hashed (SSLCARevocationPath)
#   cadir/                 the CA certificates, hashed (SSLCACertificatePath)
#   root.crl inter.crl inter_expired.crl
#   serials.txt            NAME SERIAL(hex) SHA256-FINGERPRINT, one a line
# Clients: alice bob carol mallory unicode commacn nulcn alice_renewed
#   via_intermediate untrusted selfsigned forged expired notyet revoked
#   expired_intermediate_leaf hostile allnames
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
OUT=$1
SELF=$0
STAMP_WANT=$(openssl dgst -sha256 -r "$SELF" | cut -d' ' -f1)
if [ -f "$OUT/.stamp" ] && [ "$(cat "$OUT/.stamp")" = "$STAMP_WANT" ] \
   && [ -f "$OUT/allnames.b64" ]; then
    echo "make-pki: $OUT is up to date"
    exit 0
fi

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# Start from nothing: only files this script makes live here.
find "$OUT" -mindepth 1 -delete
cd "$OUT"
umask 022

DAYS=3650
PAST_START=20200101000000Z
PAST_END=20210101000000Z
FUTURE_START=20450101000000Z
FUTURE_END=20460101000000Z

# ---- OpenSSL configuration ------------------------------------------------
cat > openssl.cnf <<'EOF'
[ req ]
distinguished_name = req_dn
prompt             = no
string_mask        = utf8only
[ req_dn ]
CN = placeholder

[ v3_ca ]
basicConstraints       = critical, CA:TRUE
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ v3_root ]
basicConstraints       = critical, CA:TRUE
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash

[ v3_client ]
basicConstraints       = CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = clientAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid

# no authorityKeyIdentifier: the verifier finds the trusted root by its name
# and must fail on the signature (forged root)
[ v3_client_noaki ]
basicConstraints       = CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = clientAuth
subjectKeyIdentifier   = hash

[ v3_selfsigned ]
basicConstraints       = CA:FALSE
keyUsage               = critical, digitalSignature, keyCertSign
extendedKeyUsage       = clientAuth
subjectKeyIdentifier   = hash

[ v3_server ]
basicConstraints       = CA:FALSE
keyUsage               = critical, digitalSignature, keyEncipherment
extendedKeyUsage       = serverAuth
subjectAltName         = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid

[ ca ]
default_ca = ca_root

[ ca_common ]
EOF
for ca in root inter inter_expired; do
    mkdir -p "db_$ca"
    : > "db_$ca/index.txt"
    echo "unique_subject = no" > "db_$ca/index.txt.attr"
    echo 1000 > "db_$ca/crlnumber"
    cat >> openssl.cnf <<EOF

[ ca_$ca ]
dir              = $OUT/db_$ca
database         = \$dir/index.txt
new_certs_dir    = \$dir
certificate      = $OUT/$ca.crt
private_key      = $OUT/$ca.key
crlnumber        = \$dir/crlnumber
rand_serial      = yes
default_md       = sha256
default_days     = $DAYS
default_crl_days = $DAYS
policy           = policy_any
preserve         = yes
copy_extensions  = none
unique_subject   = no
email_in_dn      = yes
EOF
done
cat >> openssl.cnf <<'EOF'

[ policy_any ]
commonName = optional
EOF
CNF=$OUT/openssl.cnf

# ---- helpers ------------------------------------------------------------------
rsa_key() {  # FILE
    openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"
}
ec_key() {   # FILE
    openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"
}
serial() {   # a positive random 128-bit serial, as 0xHEX
    echo "0x1$(openssl rand -hex 15)"
}
csr() {      # NAME SUBJ [utf8]
    if [ "${3:-}" = utf8 ]; then
        openssl req -new -config "$CNF" -utf8 -key "$1.key" -subj "$2" -out "$1.csr"
    else
        openssl req -new -config "$CNF" -key "$1.key" -subj "$2" -out "$1.csr"
    fi
}
sign() {     # NAME ISSUER EXT  — sign NAME.csr with ISSUER for DAYS
    openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" \
        -set_serial "$(serial)" -days "$DAYS" -sha256 \
        -extfile "$CNF" -extensions "$3" -out "$1.crt" 2>/dev/null
}
ca_sign() {  # NAME CA-SECTION EXT START END  — dated signature with `openssl ca`
    openssl ca -batch -notext -config "$CNF" -name "$2" -extensions "$3" \
        -preserveDN -startdate "$4" -enddate "$5" \
        -in "$1.csr" -out "$1.crt" 2>/dev/null
}
finish() {   # NAME [INTERMEDIATE...] — DER, one-line base64, chain
    n=$1; shift
    openssl x509 -in "$n.crt" -outform DER -out "$n.der"
    openssl base64 -A -in "$n.der" > "$n.b64"
    echo >> "$n.b64"
    cat "$n.crt" > "$n.chain.pem"
    for i in "$@"; do cat "$i.crt" >> "$n.chain.pem"; done
    rm -f "$n.csr"
}
client() {   # NAME ISSUER SUBJ [utf8]
    ec_key "$1.key"
    csr "$1" "$3" "${4:-}"
    sign "$1" "$2" v3_client
}

# ---- certificate authorities -----------------------------------------------
ROOT_SUBJ="/C=US/O=CertMap Test/CN=CertMap Test Root CA"

rsa_key root.key
openssl req -new -x509 -config "$CNF" -key root.key -subj "$ROOT_SUBJ" \
    -days "$DAYS" -sha256 -set_serial "$(serial)" \
    -extensions v3_root -out root.crt

rsa_key inter.key
csr inter "/C=US/O=CertMap Test/CN=CertMap Test Intermediate CA"
ca_sign inter ca_root v3_ca "$(date -u +%Y%m%d%H%M%SZ)" 20451231000000Z
rm -f inter.csr

rsa_key inter_expired.key
csr inter_expired "/C=US/O=CertMap Test/CN=CertMap Test Expired Intermediate CA"
ca_sign inter_expired ca_root v3_ca "$PAST_START" "$PAST_END"
rm -f inter_expired.csr

rsa_key other_ca.key
openssl req -new -x509 -config "$CNF" -key other_ca.key \
    -subj "/C=US/O=Unrelated/CN=Unrelated Test CA" \
    -days "$DAYS" -sha256 -set_serial "$(serial)" \
    -extensions v3_root -out other_ca.crt

# The forged root: the very same subject, encoded by the very same command,
# but a different key.
rsa_key forged_root.key
openssl req -new -x509 -config "$CNF" -key forged_root.key -subj "$ROOT_SUBJ" \
    -days "$DAYS" -sha256 -set_serial "$(serial)" \
    -extensions v3_root -out forged_root.crt

# ---- server ---------------------------------------------------------------
rsa_key server.key
csr server "/O=CertMap Test/CN=localhost"
sign server root v3_server
rm -f server.csr
cat server.crt inter.crt > server.chain.pem

# ---- clients ------------------------------------------------------------------
client alice root \
    "/C=US/ST=Washington/L=Redmond/O=Contoso/OU=Sales/OU=Engineering/CN=alice/emailAddress=alice@contoso.example"
finish alice
client bob root "/C=US/O=Contoso/OU=Sales/CN=bob"
finish bob
client carol root "/C=DE/O=Fabrikam/OU=Research/CN=carol/title=Chief Scientist"
finish carol
client mallory root "/C=US/O=Contoso/OU=Contractors/CN=mallory"
finish mallory
client unicode root "/C=GR/O=Contoso/OU=Ωmega/CN=Ωmega Ärger" utf8
finish unicode
client commacn root "/O=Fabrikam/CN=x, O=Contoso"
finish commacn
client alice_renewed root \
    "/C=US/ST=Washington/L=Redmond/O=Contoso/OU=Sales/OU=Engineering/CN=alice/emailAddress=alice@contoso.example"
finish alice_renewed
client via_intermediate inter "/O=Contoso/OU=Branch/CN=via_intermediate"
finish via_intermediate inter
client untrusted other_ca "/O=Contoso/OU=Sales/CN=alice"
finish untrusted
ec_key forged.key
csr forged \
    "/C=US/ST=Washington/L=Redmond/O=Contoso/OU=Sales/OU=Engineering/CN=alice/emailAddress=alice@contoso.example"
sign forged forged_root v3_client_noaki
finish forged
# self-signed, with names a Contoso rule would match
ec_key selfsigned.key
openssl req -new -x509 -config "$CNF" -key selfsigned.key \
    -subj "/O=Contoso/OU=Sales/CN=alice" -days "$DAYS" -sha256 \
    -set_serial "$(serial)" -extensions v3_selfsigned -out selfsigned.crt
finish selfsigned

# dated: expired, not yet valid, revoked (all Contoso, OU=Sales)
ec_key expired.key
csr expired "/O=Contoso/OU=Sales/CN=expired"
ca_sign expired ca_root v3_client "$PAST_START" "$PAST_END"
finish expired
ec_key notyet.key
csr notyet "/O=Contoso/OU=Sales/CN=notyet"
ca_sign notyet ca_root v3_client "$FUTURE_START" "$FUTURE_END"
finish notyet
ec_key revoked.key
csr revoked "/O=Contoso/OU=Sales/CN=revoked"
ca_sign revoked ca_root v3_client "$(date -u +%Y%m%d%H%M%SZ)" 20451231000000Z
openssl ca -batch -config "$CNF" -name ca_root -revoke revoked.crt \
    -crl_reason keyCompromise 2>/dev/null
finish revoked
# a valid leaf under the expired intermediate
client expired_intermediate_leaf inter_expired \
    "/O=Contoso/OU=Sales/CN=expired_intermediate_leaf"
finish expired_intermediate_leaf inter_expired

# ---- names the openssl CLI cannot write: re-encode and re-sign --------------
# patch_name NAME ISSUER PLACEHOLDER NEWVALUE-HEX: replaces the UTF8String
# PLACEHOLDER in the TBSCertificate of NAME.crt with NEWVALUE (any bytes,
# any length), fixes every enclosing length and signs again with ISSUER's
# RSA key (sha256WithRSAEncryption, as the original).
patch_name() {
    n=$1; iss=$2; ph=$3; hex=$4
    openssl x509 -in "$n.crt" -outform DER -out "$n.orig.der"
    perl -e '
        use strict; use warnings;
        my ($in, $tbsout, $ph, $hex) = @ARGV;
        open my $f, "<:raw", $in or die; local $/; my $d = <$f>; close $f;
        my $new = pack("H*", $hex);
        sub hdr { my ($s, $o) = @_;
            my $t = ord substr($s, $o, 1); my $l = ord substr($s, $o + 1, 1);
            my $h = 2;
            if ($l & 0x80) { my $k = $l & 0x7f; $l = 0;
                $l = $l * 256 + ord substr($s, $o + 2 + $_, 1) for 0 .. $k - 1;
                $h += $k; }
            return ($t, $h, $l); }
        sub enc_len { my $l = shift; return chr($l) if $l < 128;
            my $b = ""; while ($l) { $b = chr($l & 255) . $b; $l >>= 8 }
            return chr(0x80 | length $b) . $b; }
        # Re-encodes a DER blob, replacing UTF8String $ph by $new.
        sub walk { my $s = shift; my $out = ""; my $o = 0;
            while ($o < length $s) {
                my ($t, $h, $l) = hdr($s, $o);
                my $v = substr($s, $o + $h, $l);
                if ($t == 0x0c && $v eq $ph) { $v = $new; }
                elsif ($t & 0x20) { $v = walk($v); }
                $out .= chr($t) . enc_len(length $v) . $v; $o += $h + $l; }
            return $out; }
        my ($t, $h, $l) = hdr($d, 0);
        my $body = substr($d, $h, $l);
        my ($t2, $h2, $l2) = hdr($body, 0);
        my $tbs = substr($body, 0, $h2 + $l2);
        my $rest = substr($body, $h2 + $l2);
        my $ntbs = walk($tbs);
        die "placeholder not found\n" if $ntbs eq $tbs;
        open my $o, ">:raw", $tbsout or die; print $o $ntbs; close $o;
        # the AlgorithmIdentifier follows the TBS
        my ($t3, $h3, $l3) = hdr($rest, 0);
        open $o, ">:raw", "$tbsout.alg" or die;
        print $o substr($rest, 0, $h3 + $l3); close $o;
    ' "$n.orig.der" "$n.tbs" "$ph" "$hex"
    openssl dgst -sha256 -sign "$iss.key" -out "$n.sig" "$n.tbs"
    perl -e '
        use strict; use warnings;
        my ($tbsf, $algf, $sigf, $out) = @ARGV;
        sub slurp { open my $f, "<:raw", shift or die; local $/; my $x = <$f>; $x }
        sub enc_len { my $l = shift; return chr($l) if $l < 128;
            my $b = ""; while ($l) { $b = chr($l & 255) . $b; $l >>= 8 }
            return chr(0x80 | length $b) . $b; }
        my $sig = "\0" . slurp($sigf);
        my $body = slurp($tbsf) . slurp($algf) . "\x03" . enc_len(length $sig) . $sig;
        open my $o, ">:raw", $out or die;
        print $o "\x30" . enc_len(length $body) . $body; close $o;
    ' "$n.tbs" "$n.tbs.alg" "$n.sig" "$n.der"
    openssl x509 -inform DER -in "$n.der" -out "$n.crt"
    rm -f "$n.orig.der" "$n.tbs" "$n.tbs.alg" "$n.sig"
    openssl verify -CAfile root.crt "$n.crt" >/dev/null
}
to_hex() { perl -e 'print unpack("H*", $ARGV[0])' "$1"; }

# nulcn: CN "alice\0.evil" (an embedded NUL), O=Contoso, OU=Sales
client nulcn root "/O=Contoso/OU=Sales/CN=NULPLACEHOLDER"
patch_name nulcn root NULPLACEHOLDER "$(to_hex alice)00$(to_hex .evil)"
finish nulcn

# hostile: control characters, quotes, %, backslash, a 300-character CN
HOSTILE_CN=$(perl -e 'print "\"quoted\" 100%s %n %x <b>&amp; \\\\ \x01\x07\x1b[31m\r\nX-Injected: yes\t|", "A" x 300')
client hostile root "/O=Contoso/OU=Hostile/CN=HOSTILEPLACEHOLDER"
patch_name hostile root HOSTILEPLACEHOLDER "$(to_hex "$HOSTILE_CN")"
finish hostile
# allnames: every sub-field IIS's rule editor offers, with values no other
# certificate carries (t/95-iis-import.t)
client allnames root \
    "/DC=example/DC=names/C=ZZ/ST=Nowhere/L=Nameville/street=1 Main St/O=NamesOrg/OU=Names/CN=allnames/GN=Ada/SN=Lovelace/initials=AL/title=Engineer/serialNumber=S-42/UID=ada/emailAddress=ada@names.example"
finish allnames

# ---- CRLs, bundles, hashed directories --------------------------------------
for ca in root inter inter_expired; do
    openssl ca -batch -config "$CNF" -name "ca_$ca" -gencrl \
        -crldays "$DAYS" -out "$ca.crl" 2>/dev/null
done
# the forged root's subject must be byte-identical to the real one's
subject_der() { openssl x509 -in "$1" -outform DER | perl -e '
    local $/; my $d = <STDIN>; my $o = 0;
    sub hdr { my ($o) = @_; my $l = ord substr($d, $o + 1, 1); my $h = 2;
        if ($l & 0x80) { my $k = $l & 0x7f; $l = 0;
            $l = $l * 256 + ord substr($d, $o + 2 + $_, 1) for 0 .. $k - 1;
            $h += $k } return ($h, $l) }
    my ($h) = hdr(0); $o = $h; ($h) = hdr($o); $o += $h;  # into TBS
    for my $i (0 .. 5) { my ($hh, $ll) = hdr($o);
        if ($i == 5) { print unpack("H*", substr($d, $o, $hh + $ll)); last }
        $o += $hh + $ll }'; }
if [ "$(subject_der root.crt)" != "$(subject_der forged_root.crt)" ]; then
    echo "make-pki: forged root subject differs from the root's" >&2
    exit 1
fi
openssl verify -CAfile root.crt forged.crt >/dev/null 2>&1 && {
    echo "make-pki: forged.crt verifies against the real root" >&2; exit 1; }

cat root.crl inter.crl inter_expired.crl > crl-bundle.pem
cat root.crt inter.crt inter_expired.crt > ca-bundle.pem
mkdir -p crl cadir
cp root.crl inter.crl inter_expired.crl crl/
cp root.crt inter.crt inter_expired.crt cadir/
openssl rehash crl cadir 2>/dev/null || true

# serials and fingerprints, for tests that look for them in logs
: > serials.txt
for n in alice bob carol mallory unicode commacn nulcn alice_renewed \
         via_intermediate untrusted selfsigned forged expired notyet revoked \
         expired_intermediate_leaf hostile allnames; do
    s=$(openssl x509 -in "$n.crt" -noout -serial | sed 's/^serial=//')
    f=$(openssl x509 -in "$n.crt" -noout -fingerprint -sha256 | sed 's/^.*=//')
    echo "$n $s $f" >> serials.txt
done

chmod 0644 ./*.key
echo "$STAMP_WANT" > .stamp
echo "make-pki: built $OUT"
