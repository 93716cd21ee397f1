package emulator

// JSON shapes of the Graph v1.0 resources the emulator serves.

type wIdentity struct {
	ID          string `json:"id,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	Email       string `json:"email,omitempty"`
}

type wIdentitySet struct {
	User *wIdentity `json:"user,omitempty"`
}

type wParentRef struct {
	DriveID   string `json:"driveId,omitempty"`
	DriveType string `json:"driveType,omitempty"`
	ID        string `json:"id,omitempty"`
	Path      string `json:"path,omitempty"`
}

type wFile struct {
	MimeType string `json:"mimeType,omitempty"`
}

type wFolder struct {
	ChildCount int `json:"childCount"`
}

type wDeleted struct {
	State string `json:"state"`
}

type wDriveItem struct {
	ID              string        `json:"id"`
	Name            string        `json:"name,omitempty"`
	Size            *int64        `json:"size,omitempty"`
	ETag            string        `json:"eTag,omitempty"`
	CTag            string        `json:"cTag,omitempty"`
	Created         string        `json:"createdDateTime,omitempty"`
	Modified        string        `json:"lastModifiedDateTime,omitempty"`
	WebURL          string        `json:"webUrl,omitempty"`
	CreatedBy       *wIdentitySet `json:"createdBy,omitempty"`
	LastModifiedBy  *wIdentitySet `json:"lastModifiedBy,omitempty"`
	ParentReference *wParentRef   `json:"parentReference,omitempty"`
	File            *wFile        `json:"file,omitempty"`
	Folder          *wFolder      `json:"folder,omitempty"`
	Root            *struct{}     `json:"root,omitempty"`
	Deleted         *wDeleted     `json:"deleted,omitempty"`
	Shared          *wShared      `json:"shared,omitempty"`
	DownloadURL     string        `json:"@microsoft.graph.downloadUrl,omitempty"`
}

type wLink struct {
	Scope  string `json:"scope"`
	Type   string `json:"type"`
	WebURL string `json:"webUrl,omitempty"`
}

type wInvitation struct {
	Email          string `json:"email,omitempty"`
	SignInRequired bool   `json:"signInRequired"`
}

type wPermission struct {
	ID                    string         `json:"id"`
	Roles                 []string       `json:"roles"`
	Link                  *wLink         `json:"link,omitempty"`
	GrantedToV2           *wIdentitySet  `json:"grantedToV2,omitempty"`
	GrantedToIdentitiesV2 []wIdentitySet `json:"grantedToIdentitiesV2,omitempty"`
	Invitation            *wInvitation   `json:"invitation,omitempty"`
	ExpirationDateTime    string         `json:"expirationDateTime,omitempty"`
	InheritedFrom         *wParentRef    `json:"inheritedFrom,omitempty"`
}

// wDriveRecipient is a driveRecipient of createLink's and invite's recipients.
type wDriveRecipient struct {
	Email    string `json:"email,omitempty"`
	Alias    string `json:"alias,omitempty"`
	ObjectID string `json:"objectId,omitempty"`
}

// wCreateLink is the body of the createLink action (CSDL: type, scope, expirationDateTime,
// password, message, recipients, retainInheritedPermissions, sendNotification).
type wCreateLink struct {
	Type                       string            `json:"type"`
	Scope                      string            `json:"scope"`
	ExpirationDateTime         *string           `json:"expirationDateTime"`
	Password                   string            `json:"password"`
	Recipients                 []wDriveRecipient `json:"recipients"`
	RetainInheritedPermissions *bool             `json:"retainInheritedPermissions"`
}

// wInvite is the body of the invite action (CSDL: requireSignIn, roles, sendInvitation,
// message, recipients, retainInheritedPermissions, expirationDateTime, password).
type wInvite struct {
	RequireSignIn      *bool             `json:"requireSignIn"`
	SendInvitation     *bool             `json:"sendInvitation"`
	Roles              []string          `json:"roles"`
	Recipients         []wDriveRecipient `json:"recipients"`
	ExpirationDateTime *string           `json:"expirationDateTime"`
}

type wDrive struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	DriveType string        `json:"driveType"`
	WebURL    string        `json:"webUrl,omitempty"`
	Owner     *wIdentitySet `json:"owner,omitempty"`
}

type wSite struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	WebURL      string `json:"webUrl"`
}

type wUser struct {
	ID                string `json:"id"`
	UserPrincipalName string `json:"userPrincipalName"`
	Mail              string `json:"mail,omitempty"`
	DisplayName       string `json:"displayName,omitempty"`
}

type wLabel struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	DisplayName   string `json:"displayName,omitempty"`
	Priority      int    `json:"priority"`
	IsDefault     bool   `json:"isDefault"`
	HasProtection bool   `json:"hasProtection"` // in the v1.0 CSDL's sensitivityLabel
	// IsEnabled is not in the v1.0 CSDL; the example answer of "List sensitivityLabels"
	// (learn.microsoft.com/graph/api/security-sensitivitylabel-list) shows it, so the
	// emulator sends it as that example does (../shared/specs/README.md).
	IsEnabled bool     `json:"isEnabled"`
	Sublabels []wLabel `json:"sublabels,omitempty"`
}

type wLabelAssignment struct {
	SensitivityLabelID string `json:"sensitivityLabelId"`
	AssignmentMethod   string `json:"assignmentMethod"`
	TenantID           string `json:"tenantId"`
}

type wAssignBody struct {
	SensitivityLabelID *string `json:"sensitivityLabelId"`
	AssignmentMethod   string  `json:"assignmentMethod"`
	JustificationText  string  `json:"justificationText"`
}

type wMonitor struct {
	Status             string  `json:"status"`
	PercentageComplete float64 `json:"percentageComplete"`
	ResourceID         string  `json:"resourceId,omitempty"`
	Error              *wError `json:"error,omitempty"`
}

type wSubscription struct {
	ID                        string `json:"id,omitempty"`
	Resource                  string `json:"resource"`
	ChangeType                string `json:"changeType"`
	NotificationURL           string `json:"notificationUrl"`
	LifecycleNotificationURL  string `json:"lifecycleNotificationUrl,omitempty"`
	ClientState               string `json:"clientState,omitempty"`
	ExpirationDateTime        string `json:"expirationDateTime"`
	ApplicationID             string `json:"applicationId,omitempty"`
	CreatorID                 string `json:"creatorId,omitempty"`
	LatestSupportedTLSVersion string `json:"latestSupportedTlsVersion,omitempty"`
}

type wNotification struct {
	SubscriptionID                 string `json:"subscriptionId"`
	SubscriptionExpirationDateTime string `json:"subscriptionExpirationDateTime"`
	ClientState                    string `json:"clientState,omitempty"`
	ChangeType                     string `json:"changeType,omitempty"`
	Resource                       string `json:"resource"`
	TenantID                       string `json:"tenantId"`
	LifecycleEvent                 string `json:"lifecycleEvent,omitempty"`
}

type wNotifications struct {
	Value []wNotification `json:"value"`
}

type wError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type wErrorBody struct {
	Error wError `json:"error"`
}

type wUploadSession struct {
	UploadURL          string   `json:"uploadUrl"`
	ExpirationDateTime string   `json:"expirationDateTime"`
	NextExpectedRanges []string `json:"nextExpectedRanges"`
}

type wToken struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}
