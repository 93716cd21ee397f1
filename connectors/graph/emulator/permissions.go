package emulator

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Application permissions (Entra ID app roles) the emulator knows. Each endpoint accepts the
// least privileged permission Microsoft's API reference lists for application calls and the
// higher privileged ones listed beside it:
//   - GET /sites/getAllSites, /sites: Sites.Read.All (learn.microsoft.com/graph/api/site-getallsites)
//   - GET /users: User.Read.All (learn.microsoft.com/graph/api/user-list)
//   - drives, driveItems, children, delta, permissions, download: Files.Read.All or
//     Sites.Read.All (learn.microsoft.com/graph/api/driveitem-get, driveitem-delta)
//   - extractSensitivityLabels: Files.Read.All (higher: Files.ReadWrite.All, Sites.Read.All,
//     Sites.ReadWrite.All) (learn.microsoft.com/graph/api/driveitem-extractsensitivitylabels)
//   - PUT …/content, createUploadSession: Files.ReadWrite.All or Sites.ReadWrite.All
//     (learn.microsoft.com/graph/api/driveitem-put-content)
//   - assignSensitivityLabel: Files.ReadWrite.All (higher: Sites.ReadWrite.All)
//     (learn.microsoft.com/graph/api/driveitem-assignsensitivitylabel)
//   - GET /security/dataSecurityAndGovernance/sensitivityLabels: SensitivityLabel.Read
//     (higher: SensitivityLabels.Read.All) — not InformationProtectionPolicy.Read.All, which
//     is the beta informationProtection API's (learn.microsoft.com/graph/api/sensitivitylabel-get,
//     ../shared/specs/README.md)
//   - sharing writes — createLink, invite, DELETE …/permissions/{id}: Files.ReadWrite.All
//     (higher: Sites.ReadWrite.All) (learn.microsoft.com/graph/api/driveitem-createlink,
//     driveitem-invite, permission-delete); listing permissions is a read (above)
//   - Prefer: hierarchicalsharing on delta (sharing facets only on the roots of permission
//     hierarchies) is honoured only for Sites.FullControl.All: "In order to process
//     permissions correctly your application will need to request Sites.FullControl.All
//     permissions" (learn.microsoft.com/graph/api/driveitem-delta, "Scanning permissions
//     hierarchies"); other tokens get the default answer and no Preference-Applied
//   - subscriptions on a driveItem: Files.ReadWrite.All
//     (learn.microsoft.com/graph/api/subscription-post-subscriptions, resource driveItem)
const (
	RoleSitesRead        = "Sites.Read.All"
	RoleSitesReadWrite   = "Sites.ReadWrite.All"
	RoleFilesRead        = "Files.Read.All"
	RoleFilesReadWrite   = "Files.ReadWrite.All"
	RoleSitesFullControl = "Sites.FullControl.All"
	RoleUserRead         = "User.Read.All"
	RoleLabelRead        = "SensitivityLabel.Read"
	RoleLabelsReadAll    = "SensitivityLabels.Read.All"
	RoleInfoProtPolicyRd = "InformationProtectionPolicy.Read.All" // grants nothing here: kept to show the old README's mistake
)

// Permission sets per kind of endpoint: any one of them lets the call through.
var (
	needSites      = []string{RoleSitesRead, RoleSitesReadWrite}
	needUsers      = []string{RoleUserRead, "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	needFilesRead  = []string{RoleFilesRead, RoleFilesReadWrite, RoleSitesRead, RoleSitesReadWrite}
	needFilesWrite = []string{RoleFilesReadWrite, RoleSitesReadWrite}
	needLabels     = []string{RoleLabelRead, RoleLabelsReadAll}
	needSubscribe  = []string{RoleFilesReadWrite}
)

// DefaultRoles is the set the README tells administrators to grant.
func DefaultRoles() []string {
	return []string{RoleSitesRead, RoleUserRead, RoleFilesReadWrite, RoleLabelRead}
}

type token struct {
	expires time.Time
	roles   []string
}

type ctxRoles struct{}

// issueToken mints an access token shaped like Entra ID's: a JWT whose payload carries
// the tenant, the app and its "roles". Callers hold mu.
func (s *Server) issueToken() string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	roles := append([]string{}, s.roles...)
	tok := enc(map[string]string{"typ": "JWT", "alg": "HS256"}) + "." +
		enc(map[string]any{"aud": "https://graph.microsoft.com", "tid": s.tenant.ID, "appid": s.opts.ClientID,
			"roles": roles, "jti": randomID()}) + "." + randomID()
	s.tokens[tok] = token{expires: s.opts.Now().Add(time.Hour), roles: roles}
	return tok
}

// need answers 403 and reports false unless the caller's token carries one of roles. Calls
// without client credentials configured (anonymous emulator) are not checked.
func (s *Server) need(w http.ResponseWriter, r *http.Request, roles ...string) bool {
	if s.opts.ClientID == "" {
		return true
	}
	have, _ := r.Context().Value(ctxRoles{}).([]string)
	for _, h := range have {
		if slices.Contains(roles, h) {
			return true
		}
	}
	// Graph's answer to an app token without a fitting role.
	writeErr(w, http.StatusForbidden, "accessDenied",
		"Either scp or roles claim need to be present in the token. Required one of: "+strings.Join(roles, ", "))
	return false
}

// withRoles wraps h so it runs only for callers holding one of roles.
func (s *Server) withRoles(h http.HandlerFunc, roles ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.need(w, r, roles...) {
			h(w, r)
		}
	}
}

func contextWithRoles(ctx context.Context, roles []string) context.Context {
	return context.WithValue(ctx, ctxRoles{}, roles)
}
