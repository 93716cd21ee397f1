package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Sharing routes: PUT /files/{id} (the shared_link part of "Update file"), POST
// /collaborations and DELETE /collaborations/{id}, with the statuses and bodies of
// box-openapi.json. Every change lands in the event stream and fires the sharing webhook
// triggers Box fires (ITEM_SHARED_*, COLLAB_*; SHARED_LINK.*, COLLABORATION.*).

// sharedLinkJSON renders an item's shared link as the Shared link schema of box-openapi.json
// requires it (url, effective_access, effective_permission, is_password_enabled and the
// counts always present).
func (e *Emulator) sharedLinkJSON(it *item) map[string]any {
	u := "https://app.box.com/s/" + it.id
	if it.linkSeq > 0 {
		u = fmt.Sprintf("https://app.box.com/s/%sv%d", it.id, it.linkSeq)
	}
	canDownload := it.sharedLink != "collaborators"
	if it.linkCanDownload != nil {
		canDownload = *it.linkCanDownload
	}
	perm := "can_preview"
	if canDownload {
		perm = "can_download"
	}
	l := map[string]any{"url": u, "access": it.sharedLink, "effective_access": it.sharedLink,
		"effective_permission": perm, "is_password_enabled": false, "download_count": 0, "preview_count": 0,
		"permissions": map[string]any{"can_download": canDownload, "can_preview": true, "can_edit": false}}
	if it.linkUnsharedAt != nil {
		l["unshared_at"] = it.linkUnsharedAt.Format(time.RFC3339)
	}
	return l
}

// collabJSON renders a collaboration as the Collaboration schema.
func (e *Emulator) collabJSON(it *item, c collab) map[string]any {
	var by map[string]any
	if c.group != "" {
		by = map[string]any{"type": "group", "id": "g-" + c.group, "name": c.group}
	} else {
		by = userJSON(e.users[c.login])
	}
	return map[string]any{"type": "collaboration", "id": c.id, "role": c.role, "status": c.status,
		"accessible_by": by, "item": miniJSON(it)}
}

// updateFile is PUT /files/{id}; of the updatable fields the emulator models shared_link,
// which set to null removes the link and set to an object creates (or changes) it.
func (e *Emulator) updateFile(w http.ResponseWriter, r *http.Request) {
	var body map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		boxError(w, 400, "bad_request", "invalid JSON")
		return
	}
	rawLink, hasLink := body["shared_link"]
	var link *struct {
		Access      *string    `json:"access"`
		UnsharedAt  *time.Time `json:"unshared_at"`
		Password    *string    `json:"password"`
		Permissions *struct {
			CanDownload *bool `json:"can_download"`
		} `json:"permissions"`
	}
	if hasLink && !bytes.Equal(bytes.TrimSpace(rawLink), []byte("null")) {
		if err := json.Unmarshal(rawLink, &link); err != nil {
			boxError(w, 400, "bad_request", "invalid shared_link: "+err.Error())
			return
		}
	}
	e.mu.Lock()
	it, ok := e.liveItem(w, r.PathValue("id"), false)
	if !ok {
		e.mu.Unlock()
		return
	}
	typ := ""
	if hasLink {
		if link == nil {
			if it.sharedLink != "" {
				typ = "ITEM_SHARED_UNSHARE"
				e.grantRemovals[it.id]++
			}
			it.sharedLink, it.linkUnsharedAt, it.linkCanDownload = "", nil, nil
		} else {
			access := "open" // the enterprise default when access is left out; the emulator's admin allows open links
			if link.Access != nil {
				access = *link.Access
			}
			if access != "open" && access != "company" && access != "collaborators" {
				e.mu.Unlock()
				boxError(w, 400, "bad_request", fmt.Sprintf("shared_link.access %q is not open, company or collaborators", access))
				return
			}
			if link.UnsharedAt != nil && !link.UnsharedAt.After(e.now()) {
				e.mu.Unlock()
				boxError(w, 400, "bad_request", "shared_link.unshared_at must be in the future")
				return
			}
			if link.Permissions != nil && link.Permissions.CanDownload != nil && access == "collaborators" {
				// "This can only be set when access is set to open or company."
				e.mu.Unlock()
				boxError(w, 400, "bad_request", "shared_link.permissions.can_download needs open or company access")
				return
			}
			typ = "ITEM_SHARED_UPDATE"
			if it.sharedLink == "" {
				typ = "ITEM_SHARED_CREATE"
				it.linkSeq++
			}
			it.sharedLink = access
			if link.UnsharedAt != nil {
				t := link.UnsharedAt.UTC().Truncate(time.Second)
				it.linkUnsharedAt = &t
			}
			if link.Permissions != nil && link.Permissions.CanDownload != nil {
				v := *link.Permissions.CanDownload
				it.linkCanDownload = &v
			}
		}
		it.etag++
	}
	out := e.itemJSON(it, fieldSet(r))
	var pending []pendingDelivery
	if typ != "" {
		pending = e.recordLocked(typ, it)
	}
	e.mu.Unlock()
	writeJSON(w, 200, out)
	e.deliver(pending)
}

// collabRoles are the roles POST /collaborations accepts (box-openapi.json: owner cannot be
// given).
var collabRoles = []string{"editor", "viewer", "previewer", "uploader", "previewer uploader", "viewer uploader", "co-owner"}

// createCollaboration is POST /collaborations: 201 with the collaboration; 400 on a bad
// body or a user who already collaborates on the item; 404 for an unknown item.
func (e *Emulator) createCollaboration(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Item *struct {
			Type string `json:"type"`
			ID   string `json:"id"`
		} `json:"item"`
		AccessibleBy *struct {
			Type  string `json:"type"`
			ID    string `json:"id"`
			Login string `json:"login"`
		} `json:"accessible_by"`
		Role string `json:"role"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		boxError(w, 400, "bad_request", "invalid JSON")
		return
	}
	switch {
	case body.Item == nil || (body.Item.Type != "file" && body.Item.Type != "folder") || body.Item.ID == "":
		boxError(w, 400, "bad_request", "item must name a file or folder")
		return
	case body.AccessibleBy == nil || (body.AccessibleBy.Type != "user" && body.AccessibleBy.Type != "group"):
		boxError(w, 400, "bad_request", "accessible_by.type must be user or group")
		return
	case !slices.Contains(collabRoles, body.Role):
		boxError(w, 400, "bad_request", fmt.Sprintf("role %q is not a collaboration role", body.Role))
		return
	}
	by := body.AccessibleBy
	e.mu.Lock()
	it, ok := e.liveItem(w, body.Item.ID, body.Item.Type == "folder")
	if !ok {
		e.mu.Unlock()
		return
	}
	who := ""
	switch {
	case by.Type == "group" && strings.HasPrefix(by.ID, "g-"):
		who = "group:" + strings.TrimPrefix(by.ID, "g-")
	case by.Type == "user" && by.Login != "":
		who = by.Login
	case by.Type == "user" && by.ID != "":
		for _, u := range e.users {
			if u.id == by.ID {
				who = u.login
			}
		}
	}
	if who == "" {
		e.mu.Unlock()
		boxError(w, 404, "not_found", "the user or group to collaborate with was not found")
		return
	}
	nc := e.newCollab(who, body.Role)
	if slices.ContainsFunc(it.collabs, func(c collab) bool {
		return (nc.group != "" && c.group == nc.group) || (nc.login != "" && c.login == nc.login)
	}) {
		e.mu.Unlock()
		// 400; the code is one ClientError's enum in box-openapi.json lists (bad_request).
		boxError(w, 400, "bad_request", "User is already a collaborator")
		return
	}
	it.collabs = append(it.collabs, nc)
	out := e.collabJSON(it, nc)
	pending := e.recordLocked("COLLAB_ADD_COLLABORATOR", it)
	e.mu.Unlock()
	writeJSON(w, 201, out)
	e.deliver(pending)
}

// deleteCollaboration is DELETE /collaborations/{id}: 204, or 404 when no item carries it.
func (e *Emulator) deleteCollaboration(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	e.mu.Lock()
	var on *item
	for _, it := range e.items {
		if !it.trashed && slices.ContainsFunc(it.collabs, func(c collab) bool { return c.id == id }) {
			on = it
			break
		}
	}
	if on == nil {
		e.mu.Unlock()
		boxError(w, 404, "not_found", "Could not find the specified resource: collaboration "+id)
		return
	}
	on.collabs = slices.DeleteFunc(on.collabs, func(c collab) bool { return c.id == id })
	e.grantRemovals[on.id]++
	pending := e.recordLocked("COLLAB_REMOVE_COLLABORATOR", on)
	e.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
	e.deliver(pending)
}

// GrantRemovals counts the grants removed from item id through the API (a shared link set to
// null, a collaboration deleted): a test's check that no grant was removed twice.
func (e *Emulator) GrantRemovals(id string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.grantRemovals[id]
}
