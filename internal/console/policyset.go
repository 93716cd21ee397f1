package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/labelgate/labelgate/policies"
)

// maxPolicyDoc bounds an uploaded or pasted policy document (the form's whole body is
// bounded by auth's 64 KiB reader as well).
const maxPolicyDoc = 48 << 10

// policySet is the policy page's YAML section.
type policySet struct {
	YAML string // the stored set, as one document
	// Draft is what the admin sent back when it was refused, so it can be corrected in place.
	Draft  string
	Errors []policyError
	// Failure is an error that is not about the document (the store, the catalog).
	Failure string
}

// policyError is one problem in a refused document: the policy, the field path and the
// message, as the policies parser and compiler report them.
type policyError struct {
	Policy, Field, Msg string
}

// currentYAML exports every stored policy as one document with a single `policies:` list,
// the form Apply accepts back (exporting them one by one gives one document each).
func (c *Console) currentYAML(ctx context.Context, ids []string) (string, error) {
	if c.cfg.Policies == nil || len(ids) == 0 {
		return "", nil
	}
	var all policies.Document
	for _, id := range ids {
		b, err := c.cfg.Policies.Export(ctx, id)
		if err != nil {
			return "", fmt.Errorf("export policy %s: %w", id, err)
		}
		doc, err := policies.Parse(b)
		if err != nil {
			return "", fmt.Errorf("export policy %s: %w", id, err)
		}
		all.Policies = append(all.Policies, doc.Policies...)
	}
	b, err := policies.MarshalYAML(all)
	return string(b), err
}

// policyDoc reads the submitted document: an uploaded file wins over the text area.
func policyDoc(r *http.Request) ([]byte, error) {
	if f, _, err := r.FormFile("file"); err == nil {
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxPolicyDoc+1))
		if err != nil {
			return nil, fmt.Errorf("read the uploaded file: %w", err)
		}
		if len(b) > 0 {
			if len(b) > maxPolicyDoc {
				return nil, fmt.Errorf("the document is larger than %d KiB", maxPolicyDoc>>10)
			}
			return b, nil
		}
	}
	doc := r.PostFormValue("yaml")
	if len(doc) > maxPolicyDoc {
		return nil, fmt.Errorf("the document is larger than %d KiB", maxPolicyDoc>>10)
	}
	return []byte(doc), nil
}

// applyPolicies validates and stores a whole policy document, all or nothing; a refused
// document comes back on the page with each problem beside its policy and field.
func (c *Console) applyPolicies(w http.ResponseWriter, r *http.Request, d pageData) {
	if c.cfg.Policies == nil {
		http.Error(w, "policies are not managed by this server", http.StatusNotFound)
		return
	}
	doc, err := policyDoc(r)
	if err == nil && strings.TrimSpace(string(doc)) == "" {
		err = errors.New("paste a policy document or choose a file")
	}
	var set policySet
	if err != nil {
		set.Failure = err.Error()
	} else {
		ids, aerr := c.cfg.Policies.Apply(r.Context(), doc)
		if aerr == nil {
			c.log.Info("console: policies applied", "by", d.User, "ids", ids)
			c.redirectNote(w, r, d, "/console/policies", fmt.Sprintf("applied %d policies: %s", len(ids), strings.Join(ids, ", ")), false)
			return
		}
		var fe policies.Errors
		if errors.As(aerr, &fe) {
			for _, e := range fe {
				set.Errors = append(set.Errors, policyError{Policy: e.Policy, Field: e.Field, Msg: e.Msg})
			}
		} else {
			c.log.Error("console: apply policies", "by", d.User, "err", aerr)
			set.Failure = aerr.Error()
		}
	}
	c.log.Warn("console: policy document refused", "by", d.User, "problems", len(set.Errors), "failure", set.Failure)
	set.Draft = string(doc)
	w.WriteHeader(http.StatusUnprocessableEntity)
	c.policiesWith(w, r, d, set)
}
