#!/bin/sh
# tests/ldap/entries.sh PKI DIR — prints the LDIF of the test directory
# (t/80-directory.t reads the same names).  Each account is mapped to one
# certificate of scripts/make-pki.sh by one method, with the strings
# written the way Active Directory writes them.  Also issues DIR/upn.crt,
# a client certificate with a UPN subjectAltName (make-pki.sh has none),
# signed by the test root.
set -eu
PKI=$1
DIR=$2
SUFFIX="dc=certmap,dc=test"
ROOT_DN="C=US,O=CertMap Test,CN=CertMap Test Root CA"
INTER_DN="C=US,O=CertMap Test,CN=CertMap Test Intermediate CA"

# ---- the UPN certificate -----------------------------------------------------
openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$DIR/upn.key"
cat > "$DIR/upn.ext" <<'EOF'
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
subjectAltName = otherName:1.3.6.1.4.1.311.20.2.3;UTF8:upn.user@certmap.test
EOF
openssl req -new -key "$DIR/upn.key" -subj "/O=Contoso/CN=upn" \
    -out "$DIR/upn.csr" 2>/dev/null
openssl x509 -req -in "$DIR/upn.csr" -CA "$PKI/root.crt" \
    -CAkey "$PKI/root.key" -set_serial "0x1$(openssl rand -hex 15)" \
    -days 3650 -sha256 -extfile "$DIR/upn.ext" -out "$DIR/upn.crt" 2>/dev/null
cp "$DIR/upn.crt" "$DIR/upn.chain.pem"
chmod 0644 "$DIR/upn.key"

# ---- certificates with the NTDS CA security extension (SID) -----------------
# KB5014754: GeneralNames with an otherName 1.3.6.1.4.1.311.25.2.1 whose
# [0] EXPLICIT OCTET STRING is the SID's text.  sid.crt's SID is in the
# directory; sidother.crt's is not; sidbad.crt's is no SID at all.
SID=S-1-5-21-3623811015-3361044348-30300820-1013
sid_cert() {  # NAME SID-TEXT
    openssl genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
        -out "$DIR/$1.key"
    {
        echo "basicConstraints = CA:FALSE"
        echo "keyUsage = critical, digitalSignature"
        echo "extendedKeyUsage = clientAuth"
        echo "1.3.6.1.4.1.311.25.2 = ASN1:SEQUENCE:sid_names"
        echo "[sid_names]"
        echo "name = IMPLICIT:0,SEQUENCE:sid_other"
        echo "[sid_other]"
        echo "oid = OID:1.3.6.1.4.1.311.25.2.1"
        echo "value = EXPLICIT:0,OCTETSTRING:$2"
    } > "$DIR/$1.ext"
    openssl req -new -key "$DIR/$1.key" -subj "/O=Contoso/CN=$1" \
        -out "$DIR/$1.csr" 2>/dev/null
    openssl x509 -req -in "$DIR/$1.csr" -CA "$PKI/root.crt" \
        -CAkey "$PKI/root.key" -set_serial "0x1$(openssl rand -hex 15)" \
        -days 3650 -sha256 -extfile "$DIR/$1.ext" -out "$DIR/$1.crt" \
        2>/dev/null
    cp "$DIR/$1.crt" "$DIR/$1.chain.pem"
    chmod 0644 "$DIR/$1.key"
}
sid_cert sid "$SID"
sid_cert sidother S-1-5-21-3623811015-3361044348-30300820-1014
sid_cert sidbad 'S-1-5-21-*)(uid=*'
# objectSid as AD stores it: revision, count, authority (big-endian),
# sub-authorities (little-endian)
sid_b64() {
    perl -MMIME::Base64 -e '
        my @p = split /-/, $ARGV[0]; shift @p; my $rev = shift @p;
        my $auth = shift @p;
        my $b = pack("CC", $rev, scalar @p) . substr(pack("Q>", $auth), 2)
              . join("", map { pack("V", $_) } @p);
        print encode_base64($b, "")' "$1"
}

# ---- what AD would store for a certificate -----------------------------------
# serial as hex in reversed byte order
serial_rev() {
    openssl x509 -in "$1" -noout -serial | sed 's/^serial=//' |
        perl -ne 'chomp; $_ = "0$_" if length($_) % 2;
                  print uc join("", reverse(/(..)/g))'
}
serial_fwd() { openssl x509 -in "$1" -noout -serial | sed 's/^serial=//'; }
ski() {
    openssl x509 -in "$1" -noout -ext subjectKeyIdentifier |
        sed -n '2p' | tr -d ' :\n' | tr 'A-F' 'a-f'
}
sha1() {
    openssl x509 -in "$1" -noout -fingerprint -sha1 | sed 's/^.*=//' |
        tr -d ':\n' | tr 'A-F' 'a-f'
}
b64der() { openssl x509 -in "$1" -outform DER | openssl base64 -A; }

person() {  # UID OU [LINE...]
    uid=$1 ou=$2; shift 2
    echo "dn: uid=$uid,ou=$ou,$SUFFIX"
    echo "objectClass: inetOrgPerson"
    echo "objectClass: certmapAccount"
    echo "uid: $uid"
    echo "cn: $uid"
    echo "sn: sn-$uid"
    for line in "$@"; do echo "$line"; done
    echo
}

cat <<EOF
dn: $SUFFIX
objectClass: dcObject
objectClass: organization
o: CertMap Test
dc: certmap

dn: ou=people,$SUFFIX
objectClass: organizationalUnit
ou: people

dn: ou=private,$SUFFIX
objectClass: organizationalUnit
ou: private

dn: cn=reader,$SUFFIX
objectClass: person
cn: reader
sn: reader
userPassword: ldap-pw-Rt5v

EOF

# Certificate: alice (whole DER); carol too, for the method-order test
person dir-cert people "userCertificate;binary:: $(b64der "$PKI/alice.crt")"
person dir-carol-cert people \
    "userCertificate;binary:: $(b64der "$PKI/carol.crt")"
# IssuerSerial: bob (reversed, as AD); mallory written forward (never matches)
person dir-sr people "departmentNumber: web" \
    "altSecurityIdentities: X509:<I>$ROOT_DN<SR>$(serial_rev "$PKI/bob.crt")"
person dir-sr-forward people \
    "altSecurityIdentities: X509:<I>$ROOT_DN<SR>$(serial_fwd "$PKI/mallory.crt")"
# SKI: carol
person dir-ski people "altSecurityIdentities: X509:<SKI>$(ski "$PKI/carol.crt")"
# SHA1-PUKEY: unicode
person dir-sha1 people \
    "altSecurityIdentities: X509:<SHA1-PUKEY>$(sha1 "$PKI/unicode.crt")"
# IssuerSubject: via_intermediate
person dir-is people "altSecurityIdentities: X509:<I>$INTER_DN<S>O=Contoso,OU=Branch,CN=via_intermediate"
# Subject: commacn (a CN with a comma is quoted, as CertNameToStr does)
person dir-subject people \
    'altSecurityIdentities: X509:<S>O=Fabrikam,CN="x, O=Contoso"'
# Subject, twice: mallory is ambiguous
person dir-dup1 people \
    "altSecurityIdentities: X509:<S>C=US,O=Contoso,OU=Contractors,CN=mallory"
person dir-dup2 people \
    "altSecurityIdentities: X509:<S>C=US,O=Contoso,OU=Contractors,CN=mallory"
# RFC822: alice's e-mail address
person dir-mail people \
    "altSecurityIdentities: X509:<RFC822>alice@contoso.example"
# UPN
person dir-upn people "userPrincipalName: upn.user@certmap.test"
# SID: the NTDS CA security extension's SID equals objectSid
person dir-sid people "objectSid:: $(sid_b64 "$SID")"
# the cache tests change this one: nulcn by IssuerSerial
person dir-cache people \
    "altSecurityIdentities: X509:<I>$ROOT_DN<SR>$(serial_rev "$PKI/nulcn.crt")"
# only readable after binding as cn=reader: bob by IssuerSerial
person dir-private private \
    "altSecurityIdentities: X509:<I>$ROOT_DN<SR>$(serial_rev "$PKI/bob.crt")"
