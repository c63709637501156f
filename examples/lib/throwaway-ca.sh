# Sourced by the examples: a throwaway CA and a server certificate for
# 127.0.0.1 (and localhost), made with openssl, valid for two days.
#
#   throwaway_ca DIR CA_FILE "CA name"
#
# writes DIR/CA_FILE (the CA certificate), DIR/ca.key, DIR/server.pem and
# DIR/server.key, and checks that the server certificate verifies.
throwaway_ca() {
    local dir="$1" ca="$1/$2" name="$3"
    mkdir -p "$dir"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=$name" -keyout "$dir/ca.key" -out "$ca" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' >"$dir/server.ext"
    openssl x509 -req -in "$dir/server.csr" -CA "$ca" -CAkey "$dir/ca.key" -CAcreateserial -days 2 \
        -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null
    openssl verify -CAfile "$ca" "$dir/server.pem" >/dev/null || {
        echo "FAILED: the server certificate in $dir does not verify" >&2
        return 1
    }
}
