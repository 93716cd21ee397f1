package emulator

import (
	"bytes"
	"context"
	"strings"
	"time"

	"github.com/labelgate/labelgate/labeling"
)

// relabelContent writes the label assignSensitivityLabel set into the file's bytes, as
// SharePoint does: a later download (and so a rescan) reads the label the API assigned
// instead of the file's old one. Files the label engine cannot rewrite keep their bytes.
func relabelContent(name string, content []byte, labelID, tenant, method string, now time.Time) ([]byte, bool) {
	if !labeling.IsSupported(name) || len(content) == 0 {
		return nil, false
	}
	var out bytes.Buffer
	r := bytes.NewReader(content)
	var err error
	if labelID == "" {
		// Only the tenant's own label goes: a partner organisation's label stays (issue 25).
		err = labeling.RemoveTenant(context.Background(), r, int64(len(content)), name, tenant, &out)
	} else {
		m := "Standard"
		if strings.EqualFold(method, "privileged") {
			m = "Privileged"
		} else if strings.EqualFold(method, "auto") {
			m = "Auto"
		}
		err = labeling.Apply(context.Background(), r, int64(len(content)), name,
			labeling.Label{ID: labelID, Tenant: tenant, Method: m, SetDate: now, Enabled: true}, &out)
	}
	if err != nil {
		return nil, false
	}
	return out.Bytes(), true
}
