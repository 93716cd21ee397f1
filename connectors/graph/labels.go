package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	khttp "github.com/microsoft/kiota-http-go"
	"github.com/microsoftgraph/msgraph-sdk-go/drives"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/security"

	"github.com/labelgate/labelgate/connectors"
)

// Catalog reads the tenant's sensitivity labels, flattening sublabels.
func (c *Conn) Catalog(ctx context.Context) ([]connectors.Label, error) {
	var out []connectors.Label
	seen := map[string]bool{}
	var add func(l models.SensitivityLabelable, parent string)
	add = func(l models.SensitivityLabelable, parent string) {
		id := str(l.GetId())
		if id == "" || seen[id] {
			return
		}
		seen[id] = true
		ad := l.GetAdditionalData()
		// The parent is where the label sits: the v1.0 CSDL's sensitivityLabel has no parent
		// property, only the sublabels containment (../shared/specs/graph-v1.0.csdl).
		lab := connectors.Label{ID: id, Name: str(l.GetName()), DisplayName: str(l.GetDisplayName()), Parent: parent, Tenant: c.Tenant()}
		if p := l.GetPriority(); p != nil {
			lab.Priority = int(*p)
		}
		// Enabled: the v1.0 CSDL has no such flag; the "List sensitivityLabels" docs' example
		// answer shows isEnabled, and the beta security sensitivityLabel resource has
		// isActive. Either one saying false marks the label disabled
		// (../shared/specs/README.md).
		for _, k := range []string{"isEnabled", "isActive"} {
			if on, ok := anyBool(ad[k]); ok && !on {
				lab.Disabled = true
			}
		}
		// hasProtection is in the v1.0 CSDL, though msgraph-sdk-go v1.89's model lacks a
		// getter for it: it arrives in the additional data.
		if prot, ok := anyBool(ad["hasProtection"]); ok {
			lab.Protection = prot
		}
		out = append(out, lab)
		for _, s := range l.GetSublabels() {
			add(s, id)
		}
	}
	var next string
	for {
		var page models.SensitivityLabelCollectionResponseable
		err := c.call(ctx, "graph label catalog", func(ctx context.Context) (err error) {
			if next != "" {
				page, err = security.NewDataSecurityAndGovernanceSensitivityLabelsRequestBuilder(next, c.adapter).Get(ctx, nil)
				return err
			}
			page, err = c.security().DataSecurityAndGovernance().SensitivityLabels().Get(ctx, &security.DataSecurityAndGovernanceSensitivityLabelsRequestBuilderGetRequestConfiguration{
				QueryParameters: &security.DataSecurityAndGovernanceSensitivityLabelsRequestBuilderGetQueryParameters{Expand: []string{"sublabels"}},
			})
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, l := range page.GetValue() {
			add(l, "")
		}
		if next = str(page.GetOdataNextLink()); next == "" {
			break
		}
	}
	m := make(map[string]connectors.Label, len(out))
	for _, l := range out {
		m[l.ID] = l
	}
	c.catMu.Lock()
	c.catalog = m
	c.catMu.Unlock()
	return out, nil
}

func (c *Conn) cachedLabel(ctx context.Context, id string) (connectors.Label, bool) {
	c.catMu.Lock()
	cat := c.catalog
	c.catMu.Unlock()
	if cat == nil {
		if _, err := c.Catalog(ctx); err != nil {
			return connectors.Label{}, false
		}
		c.catMu.Lock()
		cat = c.catalog
		c.catMu.Unlock()
	}
	l, ok := cat[id]
	return l, ok
}

// ReadLabel asks Graph which label the file carries (extractSensitivityLabels).
func (c *Conn) ReadLabel(ctx context.Context, ref connectors.FileRef) (connectors.LabelState, error) {
	var raw []byte
	err := c.call(ctx, "graph extract label", func(ctx context.Context) error {
		ri, err := c.item(ref.Drive, ref.ItemID).ExtractSensitivityLabels().ToPostRequestInformation(ctx, nil)
		if err != nil {
			return err
		}
		// Read the body raw: the typed model would read a "value"-wrapped answer as "no
		// labels" without a word.
		v, err := c.adapter.SendPrimitive(ctx, ri, "[]byte", abs.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue})
		if b, ok := v.([]byte); ok {
			raw = b
		}
		return err
	})
	if err != nil {
		return connectors.LabelState{}, err
	}
	labels, err := extractSensitivityLabels(raw)
	if err != nil {
		c.log.WarnContext(ctx, "graph extractSensitivityLabels answer not understood", "file", ref.Key(), "err", err)
		return connectors.LabelState{}, connectors.Errorf(connectors.KindTransient, "graph extract label", 0, 0, err)
	}
	for _, a := range labels {
		st := connectors.LabelState{LabelID: a.SensitivityLabelID, Tenant: a.TenantID, Method: a.AssignmentMethod}
		if st.Tenant != "" && !strings.EqualFold(st.Tenant, c.Tenant()) {
			continue // a label of another tenant: not ours to act on
		}
		if l, ok := c.cachedLabel(ctx, st.LabelID); ok {
			st.Protected = l.Protection
		}
		return st, nil
	}
	return connectors.LabelState{}, nil
}

// labelAssignment is a sensitivityLabelAssignment (v1.0 CSDL).
type labelAssignment struct {
	SensitivityLabelID string `json:"sensitivityLabelId"`
	AssignmentMethod   string `json:"assignmentMethod"`
	TenantID           string `json:"tenantId"`
}

// extractSensitivityLabels parses the action's answer in both shapes found in Microsoft's
// descriptions: the bare extractSensitivityLabelsResult {"labels":[…]} that the v1.0 CSDL
// declares as the return type, and the docs' example, which wraps it as {"value":{"labels":[…]}}
// (learn.microsoft.com/graph/api/driveitem-extractsensitivitylabels, response example). An
// answer with neither is an error, never "unlabelled".
func extractSensitivityLabels(b []byte) ([]labelAssignment, error) {
	var res struct {
		Labels *[]labelAssignment `json:"labels"`
		Value  *struct {
			Labels *[]labelAssignment `json:"labels"`
		} `json:"value"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("extractSensitivityLabels: %w", err)
	}
	switch {
	case res.Labels != nil:
		return *res.Labels, nil
	case res.Value != nil && res.Value.Labels != nil:
		return *res.Value.Labels, nil
	}
	return nil, errors.New("extractSensitivityLabels: answer has no labels collection")
}

// ApplyLabel assigns a label and waits (bounded) for Graph's job to finish.
func (c *Conn) ApplyLabel(ctx context.Context, ref connectors.FileRef, labelID string, opts connectors.ApplyOptions) error {
	if labelID == "" {
		return connectors.Errorf(connectors.KindInvalid, "graph assign label", 0, 0, errors.New("empty label id: use RemoveLabel"))
	}
	return c.assign(ctx, ref, labelID, opts)
}

// RemoveLabel assigns the empty label; Graph requires a justification for removals.
func (c *Conn) RemoveLabel(ctx context.Context, ref connectors.FileRef, opts connectors.ApplyOptions) error {
	if opts.Justification == "" {
		opts.Justification = "Removed by labelgate policy"
	}
	return c.assign(ctx, ref, "", opts)
}

func assignmentMethod(m string) models.SensitivityLabelAssignmentMethod {
	switch strings.ToLower(m) {
	case "privileged":
		return models.PRIVILEGED_SENSITIVITYLABELASSIGNMENTMETHOD
	case "auto":
		return models.AUTO_SENSITIVITYLABELASSIGNMENTMETHOD
	}
	return models.STANDARD_SENSITIVITYLABELASSIGNMENTMETHOD
}

func (c *Conn) assign(ctx context.Context, ref connectors.FileRef, labelID string, opts connectors.ApplyOptions) error {
	body := drives.NewItemItemsItemAssignSensitivityLabelPostRequestBody()
	body.SetSensitivityLabelId(&labelID)
	method := assignmentMethod(opts.Method)
	body.SetAssignmentMethod(&method)
	if opts.Justification != "" {
		body.SetJustificationText(&opts.Justification)
	}
	hdrs := khttp.NewHeadersInspectionOptions()
	hdrs.InspectResponseHeaders = true
	err := c.call(ctx, "graph assign label", func(ctx context.Context) error {
		return c.item(ref.Drive, ref.ItemID).AssignSensitivityLabel().Post(ctx, body, &drives.ItemItemsItemAssignSensitivityLabelRequestBuilderPostRequestConfiguration{
			Options: []abs.RequestOption{hdrs},
		})
	})
	if err != nil {
		return err
	}
	loc := hdrs.GetResponseHeaders().Get("Location")
	if len(loc) == 0 || loc[0] == "" {
		return nil // applied synchronously
	}
	return c.waitMonitor(ctx, loc[0])
}

type monitorStatus struct {
	Status string `json:"status"`
	Error  *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// waitMonitor polls a long-running-operation monitor URL until it completes or fails,
// honouring Retry-After, within MonitorTimeout.
func (c *Conn) waitMonitor(ctx context.Context, u string) error {
	const op = "graph label monitor"
	ctx, cancel := context.WithTimeout(ctx, c.cfg.MonitorTimeout)
	defer cancel()
	wait := c.cfg.MonitorPoll
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return connectors.Errorf(connectors.KindInvalid, op, 0, 0, err)
		}
		resp, err := c.monitor.Do(req)
		if err != nil {
			return classify(op, err, c.cfg.Now())
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		ra := connectors.ParseRetryAfter(resp.Header.Get("Retry-After"), c.cfg.Now())
		var st monitorStatus
		_ = json.Unmarshal(b, &st)
		switch {
		case resp.StatusCode == http.StatusSeeOther || strings.EqualFold(st.Status, "completed"):
			// 303 See Other (Location: the resource) is how a finished long-running
			// operation may answer instead of {"status":"completed"}.
			return nil
		case strings.EqualFold(st.Status, "failed"):
			msg := "label job failed"
			if st.Error != nil {
				msg = st.Error.Code + ": " + st.Error.Message
				if lockedCode(st.Error.Code) {
					return connectors.Errorf(connectors.KindLocked, op, resp.StatusCode, 0, errors.New(msg))
				}
			}
			return connectors.Errorf(connectors.KindInvalid, op, resp.StatusCode, 0, errors.New(msg))
		case resp.StatusCode >= 400 && resp.StatusCode != http.StatusTooManyRequests:
			return classifyStatus(op, resp.StatusCode, "", ra, fmt.Errorf("monitor answered HTTP %d", resp.StatusCode))
		}
		d := wait
		if ra > 0 {
			d = ra
		} else {
			wait = min(wait*2, 10*time.Second)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return connectors.Errorf(connectors.KindTransient, op, 0, 0, fmt.Errorf("label job still running: %w", ctx.Err()))
		case <-t.C:
		}
	}
}

// lockedCode reports the error codes of a file whose protection blocks relabelling: Graph's
// 423 codes (../shared/specs/README.md) and the generic resourceLocked.
func lockedCode(code string) bool {
	switch strings.ToLower(code) {
	case "filedoublekeyencrypted", "filedecryptionnotsupported", "filedecryptiondeferred", "resourcelocked":
		return true
	}
	return false
}
