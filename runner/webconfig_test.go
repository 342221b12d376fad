package runner

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/streams-dev/streams/config"
)

// selfSigned writes a certificate for 127.0.0.1 and its key into dir
// and returns their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "streams test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})))
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// metrics.web_config_file serves the metrics, health and page over TLS
// with basic auth, as the Prometheus web config file says.
func TestMetricsWebConfig(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webFile := filepath.Join(dir, "web.yml")
	writeFile(t, webFile, fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  prom: %s\n", certFile, keyFile, hash))
	yaml := fmt.Sprintf("metrics: {type: prometheus, address: \"127.0.0.1:0\", web_config_file: %q}\npipeline: {segments: [{}]}\n", webFile)
	cfg, err := config.Parse([]byte(yaml), nil)
	if err != nil {
		t.Fatal(err)
	}
	served := ""
	opts := Options{Config: cfg, OnHTTP: func(a string) { served = a }}.withDefaults()
	obs, err := startObservation(context.Background(), seedPipeline().MustBuild(), opts, &deployment{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer obs.close()

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(scheme, path, user, pass string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, scheme+"://"+served+path, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("https", "/metrics", "prom", "s3cret"); code != http.StatusOK || !strings.Contains(body, "# TYPE streams_step_messages_in_total") {
		t.Errorf("with the password: %d %.200s", code, body)
	}
	if code, _ := get("https", "/healthz", "prom", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("with a wrong password: %d, want 401", code)
	}
	if code, _ := get("https", "/api/stats", "", ""); code != http.StatusUnauthorized {
		t.Errorf("without credentials: %d, want 401", code)
	}
	if code, body := get("http", "/metrics", "prom", "s3cret"); code == http.StatusOK {
		t.Errorf("plain HTTP served the metrics: %.200s", body)
	}

	// A file that does not parse is refused at start.
	bad := filepath.Join(dir, "bad.yml")
	writeFile(t, bad, "tls_server_config: {cert_file: /nonexistent}\n")
	cfg.Metrics.WebConfigFile = bad
	if _, err := startObservation(context.Background(), seedPipeline().MustBuild(), opts, &deployment{}, slog.New(slog.DiscardHandler)); err == nil ||
		!strings.Contains(err.Error(), "metrics.web_config_file") {
		t.Errorf("a bad web config file: err %v", err)
	}
}
