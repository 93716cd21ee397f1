package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
)

// Role is what a token may do: viewers read, admins also change things.
type Role int

// Roles, weakest first.
const (
	RoleNone Role = iota
	RoleViewer
	RoleAdmin
)

// Token is one configured bearer token, kept only as its SHA-256 so the plain value need not
// stay in memory (or in the file: a hashed token works the same).
type Token struct {
	Name string
	Role Role
	hash [32]byte
}

// NewToken makes a token from its plain value.
func NewToken(name string, role Role, plain string) Token {
	return Token{Name: name, Role: role, hash: sha256.Sum256([]byte(plain))}
}

// NewHashedToken makes a token from the hex SHA-256 of its value.
func NewHashedToken(name string, role Role, hexHash string) (Token, bool) {
	b, err := hex.DecodeString(hexHash)
	if err != nil || len(b) != 32 {
		return Token{}, false
	}
	t := Token{Name: name, Role: role}
	copy(t.hash[:], b)
	return t, true
}

// ParseRole maps a configuration role name.
func ParseRole(s string) Role {
	switch s {
	case "admin":
		return RoleAdmin
	case "viewer":
		return RoleViewer
	}
	return RoleNone
}

// authenticate finds the token of a request. Every configured token is compared, in constant
// time, so the time taken says nothing about which one (or which prefix) was close.
func authenticate(r *http.Request, tokens []Token) (Token, bool) {
	h := r.Header.Get("Authorization")
	if !strings.HasPrefix(h, "Bearer ") {
		return Token{}, false
	}
	sum := sha256.Sum256([]byte(strings.TrimPrefix(h, "Bearer ")))
	var found Token
	ok := 0
	for _, t := range tokens {
		if subtle.ConstantTimeCompare(sum[:], t.hash[:]) == 1 {
			found, ok = t, 1
		}
	}
	return found, ok == 1
}

// Authenticate checks a plain token against the configured ones, in constant time.
func Authenticate(plain string, tokens []Token) (Token, bool) {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+plain)
	return authenticate(r, tokens)
}
