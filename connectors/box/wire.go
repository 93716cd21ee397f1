package box

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Wire structs: the subset of the Box REST API v2.0 JSON this client reads and writes.
// Field names follow https://developer.box.com/reference/ so the types can be swapped for
// github.com/box/box-go-sdk-gen once it can be vendored.

// Classification template and field, fixed names in every Box enterprise.
const (
	classificationScope    = "enterprise"
	classificationTemplate = "securityClassification-6VMVochwUWo"
	classificationField    = "Box__Security__Classification__Key"
)

// wireError is Box's error body: {"type":"error","status":404,"code":"not_found",...}.
type wireError struct {
	Type      string `json:"type"`
	Status    int    `json:"status"`
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
	HelpURL   string `json:"help_url,omitempty"`
}

type wireUser struct {
	Type  string `json:"type"`
	ID    string `json:"id"`
	Name  string `json:"name,omitempty"`
	Login string `json:"login,omitempty"`
}

type wireMini struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	ETag string `json:"etag,omitempty"`
}

type wirePathCollection struct {
	TotalCount int        `json:"total_count"`
	Entries    []wireMini `json:"entries"`
}

type wireSharedLink struct {
	URL             string                     `json:"url"`
	Access          string                     `json:"access"` // open, company, collaborators
	EffectiveAccess string                     `json:"effective_access,omitempty"`
	UnsharedAt      *time.Time                 `json:"unshared_at,omitempty"`
	Permissions     *wireSharedLinkPermissions `json:"permissions,omitempty"`
}

// wireSharedLinkPermissions is a shared link's permissions object; only can_download can be
// set (PUT /files/{file_id} in box-openapi.json).
type wireSharedLinkPermissions struct {
	CanDownload *bool `json:"can_download,omitempty"`
}

// wireSharedLinkUpdate is the body of PUT /files/{file_id} that sets or removes the file's
// shared link: {"shared_link": null} removes it, an object creates one with a new URL
// (box-openapi.json, "Update file", shared_link: "Set this to null to remove the shared link").
type wireSharedLinkUpdate struct {
	SharedLink *wireSharedLinkRequest `json:"shared_link"`
}

// wireSharedLinkRequest is the shared_link object of that body.
type wireSharedLinkRequest struct {
	Access      string                     `json:"access,omitempty"`
	UnsharedAt  *time.Time                 `json:"unshared_at,omitempty"`
	Permissions *wireSharedLinkPermissions `json:"permissions,omitempty"`
}

// wireClassification is one classification metadata instance.
type wireClassification struct {
	Key      string `json:"Box__Security__Classification__Key"`
	Parent   string `json:"$parent,omitempty"`
	Template string `json:"$template,omitempty"`
	Scope    string `json:"$scope,omitempty"`
	Version  int    `json:"$version,omitempty"`
}

// wireItem is a file or folder as listings, GET /files/{id} and event sources return it.
type wireItem struct {
	Type              string                                   `json:"type"`
	ID                string                                   `json:"id"`
	Name              string                                   `json:"name"`
	ETag              string                                   `json:"etag,omitempty"`
	SHA1              string                                   `json:"sha1,omitempty"`
	Size              int64                                    `json:"size,omitempty"`
	CreatedAt         *time.Time                               `json:"created_at,omitempty"`
	ModifiedAt        *time.Time                               `json:"modified_at,omitempty"`
	ContentModifiedAt *time.Time                               `json:"content_modified_at,omitempty"`
	PathCollection    *wirePathCollection                      `json:"path_collection,omitempty"`
	OwnedBy           *wireUser                                `json:"owned_by,omitempty"`
	SharedLink        *wireSharedLink                          `json:"shared_link,omitempty"`
	HasCollaborations *bool                                    `json:"has_collaborations,omitempty"` // direct collaborations only
	ItemStatus        string                                   `json:"item_status,omitempty"`        // active, trashed, deleted
	Parent            *wireMini                                `json:"parent,omitempty"`
	Metadata          map[string]map[string]wireClassification `json:"metadata,omitempty"`
}

// classification returns the classification key the item carries in its metadata field.
func (it wireItem) classification() string {
	return it.Metadata[classificationScope][classificationTemplate].Key
}

type wireItems struct {
	TotalCount int        `json:"total_count,omitempty"`
	Entries    []wireItem `json:"entries"`
	Limit      int        `json:"limit,omitempty"`
	NextMarker string     `json:"next_marker,omitempty"`
}

type wireCollaboration struct {
	Type         string     `json:"type"`
	ID           string     `json:"id"`
	Role         string     `json:"role"`
	Status       string     `json:"status"` // accepted, pending, rejected
	AccessibleBy *wireUser  `json:"accessible_by,omitempty"`
	InviteEmail  string     `json:"invite_email,omitempty"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
}

// wireCollaborationCreate is the body of POST /collaborations (box-openapi.json, "Create
// collaboration": item, accessible_by and role required).
type wireCollaborationCreate struct {
	Item         wireTarget           `json:"item"`
	AccessibleBy wireCollaboratorSpec `json:"accessible_by"`
	Role         string               `json:"role"`
}

// wireCollaboratorSpec names the grantee: a user by login (or id), a group by id.
type wireCollaboratorSpec struct {
	Type  string `json:"type"`
	ID    string `json:"id,omitempty"`
	Login string `json:"login,omitempty"`
}

type wireCollaborations struct {
	Entries    []wireCollaboration `json:"entries"`
	NextMarker string              `json:"next_marker,omitempty"`
}

// streamPosition accepts Box's next_stream_position, which is sometimes a JSON number and
// sometimes a string.
type streamPosition string

func (p *streamPosition) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if strings.HasPrefix(s, `"`) {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*p = streamPosition(v)
		return nil
	}
	if _, err := strconv.ParseInt(s, 10, 64); err != nil && s != "null" {
		return err
	}
	if s == "null" {
		s = ""
	}
	*p = streamPosition(s)
	return nil
}

type wireEvent struct {
	Type      string          `json:"type"`
	EventID   string          `json:"event_id"`
	EventType string          `json:"event_type"`
	CreatedAt *time.Time      `json:"created_at,omitempty"`
	CreatedBy *wireUser       `json:"created_by,omitempty"`
	Source    json.RawMessage `json:"source,omitempty"`
}

// wireEventSource is an event's source: a file or folder as GET /files returns it (the user
// streams), or the EventSource shape of the enterprise stream (item_type, item_id,
// item_name, parent, owned_by; box-openapi.json components.schemas.EventSource).
type wireEventSource struct {
	wireItem
	ItemType string `json:"item_type,omitempty"`
	ItemID   string `json:"item_id,omitempty"`
	ItemName string `json:"item_name,omitempty"`
}

// item returns the source as an item, whichever shape it came in.
func (s wireEventSource) item() wireItem {
	it := s.wireItem
	if it.ID == "" && s.ItemID != "" {
		it.Type, it.ID, it.Name = s.ItemType, s.ItemID, s.ItemName
	}
	return it
}

// topLevel reports whether the item lies directly in "0".
func (it wireItem) topLevel() bool {
	if it.PathCollection != nil {
		e := it.PathCollection.Entries
		return len(e) == 1 && e[0].ID == "0"
	}
	return it.Parent != nil && it.Parent.ID == "0"
}

type wireEvents struct {
	ChunkSize          int            `json:"chunk_size"`
	NextStreamPosition streamPosition `json:"next_stream_position"`
	Entries            []wireEvent    `json:"entries"`
}

type wireTemplateOption struct {
	ID           string `json:"id"`
	Key          string `json:"key"`
	StaticConfig *struct {
		Classification *struct {
			Definition string `json:"classificationDefinition"`
			ColorID    int    `json:"colorID"`
		} `json:"classification,omitempty"`
	} `json:"staticConfig,omitempty"`
}

type wireTemplateField struct {
	Type        string               `json:"type"`
	Key         string               `json:"key"`
	DisplayName string               `json:"displayName"`
	Options     []wireTemplateOption `json:"options"`
}

type wireTemplate struct {
	TemplateKey string              `json:"templateKey"`
	Scope       string              `json:"scope"`
	DisplayName string              `json:"displayName"`
	Fields      []wireTemplateField `json:"fields"`
}

type wirePatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value string `json:"value"`
}

type wireTarget struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

type wireWebhook struct {
	Type      string     `json:"type,omitempty"`
	ID        string     `json:"id,omitempty"`
	Target    wireTarget `json:"target"`
	Address   string     `json:"address"`
	Triggers  []string   `json:"triggers"`
	CreatedAt *time.Time `json:"created_at,omitempty"`
}

// wireWebhookUpdate is the body of PUT /webhooks/{id}; the target stays as it is.
type wireWebhookUpdate struct {
	Address  string   `json:"address,omitempty"`
	Triggers []string `json:"triggers,omitempty"`
}

type wireWebhooks struct {
	Entries    []wireWebhook `json:"entries"`
	NextMarker string        `json:"next_marker,omitempty"`
}

// wireWebhookEvent is the body Box POSTs to a webhook address.
type wireWebhookEvent struct {
	Type      string     `json:"type"`
	ID        string     `json:"id"`
	CreatedAt *time.Time `json:"created_at,omitempty"`
	Trigger   string     `json:"trigger"`
	Webhook   wireMini   `json:"webhook"`
	Source    *wireItem  `json:"source"`
}

type wireUploadAttributes struct {
	Name string `json:"name,omitempty"`
}
