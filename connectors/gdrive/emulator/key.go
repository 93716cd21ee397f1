package emulator

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
)

// ServiceAccountKey makes a service account JSON key in the form Google issues, with a fresh
// RSA key, for a connector to sign its token requests to this emulator with: the emulator
// checks the JWT's shape, not its signature, so any such key serves. project names the key's
// Google Cloud project and its service account.
func ServiceAccountKey(project string) ([]byte, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("emulator: service account key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("emulator: service account key: %w", err)
	}
	return json.Marshal(map[string]string{
		"type": "service_account", "project_id": project, "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "labelgate@" + project + ".iam.gserviceaccount.com", "client_id": "1",
		"token_uri": "https://oauth2.googleapis.com/token",
	})
}
