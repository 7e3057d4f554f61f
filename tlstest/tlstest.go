// Package tlstest makes the certificate tests serve TLS with on loopback:
// one piece instead of a self-signed certificate written out again in
// every package that listens or dials over TLS. Only tests import it.
package tlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"testing"
	"time"
)

// Loopback returns a fresh self-signed ECDSA P-256 certificate for
// 127.0.0.1, valid from an hour ago to an hour from now, for servers and
// clients alike; its Leaf is set, for a client's pool of roots.
func Loopback(tb testing.TB) tls.Certificate {
	tb.Helper()
	return selfSigned(tb, big.NewInt(1))
}

// For returns a fresh self-signed ECDSA P-256 certificate for the DNS
// names (and 127.0.0.1), valid from an hour ago to an hour from now, with a
// random serial number: two made for the same names are told apart by it,
// as a renewal is. Its Leaf is set.
func For(tb testing.TB, names ...string) tls.Certificate {
	tb.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		tb.Fatal(err)
	}
	return selfSigned(tb, serial, names...)
}

// selfSigned is a self-signed ECDSA P-256 certificate with serial for
// the DNS names and 127.0.0.1, valid from an hour ago to an hour from
// now, for server and client use, its Leaf set.
func selfSigned(tb testing.TB, serial *big.Int, names ...string) tls.Certificate {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "switchboard test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     names,
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// PEM returns cert's certificate and its PKCS#8 private key as PEM, what
// a server's -cert and -key files hold.
func PEM(tb testing.TB, cert tls.Certificate) (certPEM, keyPEM []byte) {
	tb.Helper()
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

// WriteFiles writes cert as PEM to certFile and its key to keyFile (0600).
func WriteFiles(tb testing.TB, cert tls.Certificate, certFile, keyFile string) {
	tb.Helper()
	c, k := PEM(tb, cert)
	if err := os.WriteFile(certFile, c, 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(keyFile, k, 0o600); err != nil {
		tb.Fatal(err)
	}
}
