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
		lab := connectors.Label{ID: id, Name: str(l.GetName()), DisplayName: str(l.GetDisplayName()), Parent: parent, Tenant: c.Tenant()}
		if lab.Parent == "" {
			lab.Parent = anyString(ad["parent"])
		}
		if p := l.GetPriority(); p != nil {
			lab.Priority = int(*p)
		}
		// isEnabled is the Graph docs' example; the v1.0 CSDL has no enabled flag
		// (../shared/specs/README.md); isActive is kept for answers that still carry it.
		if active, ok := anyBool(ad["isEnabled"]); ok {
			lab.Disabled = !active
		} else if active, ok := anyBool(ad["isActive"]); ok {
			lab.Disabled = !active
		}
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
	var res models.ExtractSensitivityLabelsResultable
	err := c.call(ctx, "graph extract label", func(ctx context.Context) (err error) {
		res, err = c.item(ref.Drive, ref.ItemID).ExtractSensitivityLabels().Post(ctx, nil)
		return err
	})
	if err != nil {
		return connectors.LabelState{}, err
	}
	for _, a := range res.GetLabels() {
		st := connectors.LabelState{LabelID: str(a.GetSensitivityLabelId()), Tenant: str(a.GetTenantId())}
		if m := a.GetAssignmentMethod(); m != nil {
			st.Method = m.String()
		}
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
		resp, err := c.hc.Do(req)
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
			return nil
		case strings.EqualFold(st.Status, "failed"):
			msg := "label job failed"
			if st.Error != nil {
				msg = st.Error.Code + ": " + st.Error.Message
				if strings.EqualFold(st.Error.Code, "resourceLocked") {
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
