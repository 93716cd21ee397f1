package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/labelgate/labelgate/internal/store"
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
	// Preview is what the draft's policies would do to the inventory, before applying.
	Preview []previewRow
	// PreviewContent: some policy has content conditions, which a preview does not read.
	PreviewContent bool
}

// previewRow is one policy of a previewed document.
type previewRow struct {
	ID, Name          string
	Replaces, Enabled bool
	Files             int64
	Matched, Touched  int64
	Actions           []kv
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
	switch {
	case err != nil:
		set.Failure = err.Error()
	case r.PostFormValue("op") == "preview":
		set, err = c.previewPolicies(r.Context(), doc)
		set.Draft = string(doc)
		if err != nil {
			set.Failure = err.Error()
			c.log.Error("console: preview policies", "by", d.User, "err", err)
		}
		if set.Failure != "" || len(set.Errors) > 0 {
			refused(w)
		}
		c.policiesWith(w, r, d, set)
		return
	default:
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
	refused(w)
	c.policiesWith(w, r, d, set)
}

// previewPolicies is the what-if of a document not yet applied: it is parsed and compiled
// against the label catalog as Manager.Apply would (so a preview reports every problem an
// apply would), then every policy in it, enabled or not, is evaluated on each file of the
// inventory in one pass, without content (content conditions read as not matched, so the
// counts are a lower bound, as for a stored policy's what-if). A refused document returns
// its problems in the set, not as the error.
func (c *Console) previewPolicies(ctx context.Context, data []byte) (policySet, error) {
	var set policySet
	addErrs := func(err error) bool {
		var fe policies.Errors
		if !errors.As(err, &fe) {
			return false
		}
		for _, e := range fe {
			set.Errors = append(set.Errors, policyError{Policy: e.Policy, Field: e.Field, Msg: e.Msg})
		}
		return true
	}
	doc, err := policies.Parse(data)
	if err != nil {
		if addErrs(err) {
			return set, nil
		}
		return set, err
	}
	if len(doc.Policies) == 0 {
		set.Errors = []policyError{{Field: "policies", Msg: "no policies in the document"}}
		return set, nil
	}
	cat, err := policies.StoreCatalog(ctx, c.cfg.Store)
	if err != nil {
		return set, fmt.Errorf("load label catalog: %w", err)
	}
	stored, err := c.cfg.Store.ListPolicies(ctx)
	if err != nil {
		return set, err
	}
	exists := map[string]bool{}
	for _, p := range stored {
		exists[p.ID] = true
	}
	on := true
	all := make([]policies.Policy, len(doc.Policies))
	index := map[string]int{}
	actions := make([]map[string]int64, len(doc.Policies))
	for i, p := range doc.Policies {
		set.Preview = append(set.Preview, previewRow{ID: p.ID, Name: p.Name, Replaces: exists[p.ID], Enabled: p.IsEnabled()})
		set.PreviewContent = set.PreviewContent || p.Filter != nil && hasContent(*p.Filter)
		p.Enabled = &on // a disabled policy is previewed too: it may be enabled later
		all[i], index[p.ID], actions[i] = p, i, map[string]int64{}
	}
	eng, err := policies.Compile(all, cat, policies.Options{Now: c.cfg.Now, Logger: c.log})
	if err != nil {
		if addErrs(err) {
			set.Preview = nil
			return set, nil
		}
		return set, err
	}
	err = c.cfg.Store.EachFile(ctx, store.FileFilter{}, func(r store.FileRecord) error {
		f := policies.FactsFromRecord(r, cat)
		d, err := eng.Evaluate(ctx, &f)
		if err != nil {
			return err
		}
		touched := map[int]bool{}
		for _, id := range d.Matched {
			set.Preview[index[id]].Matched++
		}
		for _, a := range d.Actions {
			i := index[a.PolicyID]
			actions[i][a.Kind]++
			touched[i] = true
		}
		for i := range touched {
			set.Preview[i].Touched++
		}
		for i := range set.Preview {
			set.Preview[i].Files++
		}
		return nil
	})
	if err != nil {
		return set, fmt.Errorf("preview: %w", err)
	}
	for i := range set.Preview {
		set.Preview[i].Actions = sortedKV(actions[i], nil)
	}
	return set, nil
}

// hasContent reports whether a filter reads file content anywhere in its tree.
func hasContent(n policies.Node) bool {
	if n.Content != nil {
		return true
	}
	if n.Not != nil && hasContent(*n.Not) {
		return true
	}
	for _, k := range append(append([]policies.Node{}, n.All...), n.Any...) {
		if hasContent(k) {
			return true
		}
	}
	return false
}

// refused answers 422 for a document sent back with its problems; the header is fixed at
// WriteHeader, so the page's content type is set first.
func refused(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusUnprocessableEntity)
}
