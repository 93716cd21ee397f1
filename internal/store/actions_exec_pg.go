package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// PostgreSQL forms of ClaimAction and CompleteAction.
//
// On SQLite a transaction of several statements costs only CPU. On PostgreSQL every
// statement, and the BEGIN and COMMIT around them, is a round trip: the generic forms took
// four for a claim and five for a completion, most of the executor's own cost per action. Here
// a completion is one statement whose data-modifying CTEs take the same steps atomically, and
// a claim is a read (the quota limit is the caller's function of the action, so the action must
// be known first) and one such statement. The store's conformance tests run both forms.

// claimActionPG is claimAction on PostgreSQL.
func (s *Store) claimActionPG(ctx context.Context, id int64, now time.Time, kinds []string, limit func(Action) int) (Claim, error) {
	// Kind, app, tenant and manual never change once an action is recorded, so the limit
	// computed from this read holds for the claim below; the label comes with it for the
	// executor's catalog check.
	a, l, err := scanActionLabel(s.queryRow(ctx, `SELECT `+qualify("a", actionCols)+`, `+optLabelCols+`
		FROM actions a LEFT JOIN labels l ON l.app = a.app AND l.tenant = a.tenant AND l.id = a.label_id
		WHERE a.id = ?`, id))
	if isNoRows(err) {
		return Claim{}, fmt.Errorf("action %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Claim{}, fmt.Errorf("store: claim action: %w", err)
	}
	c := Claim{Limit: -1, Label: l}
	if ExecutorKind(a.Kind) {
		c.Limit = limit(a)
	}
	window, reset := QuotaWindow(now).UnixMilli(), NextQuotaReset(now)
	nowMS := now.UnixMilli()
	// cand locks the action if it is still claimable (a concurrent claimer blocks here, then
	// sees it no longer is); counted takes the quota unit under the same guarded upsert as
	// takeQuota; the action then becomes running, or paused until the reset when no unit fit.
	// quota_window records the window a unit is counted in, 0 when none is.
	q := `WITH cand AS (
			SELECT id AS cid FROM actions WHERE id = ? AND state IN (?, ?) AND not_before <= ?` + kindsIn(kinds) + ` FOR UPDATE
		), counted AS (
			INSERT INTO quotas (app, tenant, allowance, window_start, used)
			SELECT ?::text, ?::text, ?::text, ?::bigint, 1 FROM cand WHERE ?::bigint > 0
			ON CONFLICT (app, tenant, allowance, window_start) DO UPDATE SET used = quotas.used + 1 WHERE quotas.used < ?::bigint
			RETURNING 1
		), fits AS (
			SELECT ?::bigint < 0 OR EXISTS (SELECT 1 FROM counted) AS ok
		)
		UPDATE actions SET
			state = CASE WHEN fits.ok THEN ?::text ELSE ?::text END,
			attempts = CASE WHEN fits.ok THEN attempts + 1 ELSE attempts END,
			reason = CASE WHEN fits.ok THEN reason ELSE ?::text END,
			not_before = CASE WHEN fits.ok THEN not_before ELSE ?::bigint END,
			quota_window = CASE WHEN fits.ok AND ?::bigint >= 0 THEN ?::bigint ELSE 0 END,
			updated_at = ?::bigint
		FROM cand, fits WHERE actions.id = cand.cid
		RETURNING ` + actionCols + `, write_sent_at`
	args := []any{id, ActionPending, ActionPaused, nowMS}
	for _, k := range kinds {
		args = append(args, k)
	}
	args = append(args, string(a.Ref.App), a.Ref.Tenant, ActionAllowance(a.Kind, a.Manual), window, c.Limit, c.Limit,
		c.Limit,
		ActionRunning, ActionPaused,
		pauseReason(a, c.Limit, reset),
		reset.UnixMilli(),
		c.Limit, window,
		nowMS)
	var sent int64
	c.Action, err = scanAction(extraScan{s.queryRow(ctx, q, args...), []any{&sent}})
	if isNoRows(err) {
		// Not claimable (any more): report the action as it is now.
		a, err := s.GetAction(ctx, id)
		return Claim{Action: a}, err
	}
	if err != nil {
		return Claim{}, fmt.Errorf("store: claim action: %w", err)
	}
	c.Claimed, c.Paused, c.WriteSent = c.Action.State == ActionRunning, c.Action.State == ActionPaused, sent != 0
	return c, nil
}

// completeActionPG is completeAction on PostgreSQL. All CTEs see the rows as they were before
// the statement, so inv reads the file's path, name and label from before its update.
func (s *Store) completeActionPG(ctx context.Context, c Completion) error {
	nowMS := s.now().UnixMilli()
	kind := c.eventKind()
	var l FileLabel
	if c.Label != nil {
		l = *c.Label
	}
	var f FileFacts
	if c.File != nil {
		f = *c.File
	}
	const q = `WITH a AS (
			UPDATE actions SET state = ?, reason = ?, not_before = ?, updated_at = ?
			WHERE id = ? AND state = ? RETURNING app, tenant, drive, item_id, label_id, kind, manual, quota_window
		), released AS (
			UPDATE quotas SET used = quotas.used - 1 FROM a
			WHERE ?::boolean AND a.quota_window <> 0 AND quotas.app = a.app AND quotas.tenant = a.tenant
				AND quotas.allowance = CASE WHEN a.kind IN (?::text, ?::text, ?::text, ?::text) THEN a.kind
					WHEN a.manual THEN ?::text ELSE ?::text END
				AND quotas.window_start = a.quota_window AND quotas.used > 0
		), inv AS (
			SELECT files.path, files.name, files.label_id FROM files, a
			WHERE files.app = a.app AND files.tenant = a.tenant AND files.drive = a.drive AND files.item_id = a.item_id
		), labelled AS (
			UPDATE files SET label_id = ?::text, label_tenant = ?::text, label_method = ?::text, label_set_at = ?::bigint,
				label_external = FALSE, updated_at = ?::bigint
			FROM a WHERE ?::boolean AND files.app = a.app AND files.tenant = a.tenant AND files.drive = a.drive
				AND files.item_id = a.item_id
		), logged AS (
			INSERT INTO events (at, kind, app, tenant, drive, item_id, path, name, label_id, prev_label_id, actor, detail)
			SELECT ?::bigint, ?::text, a.app, a.tenant, a.drive, a.item_id,
				CASE WHEN ?::boolean THEN ?::text ELSE COALESCE((SELECT path FROM inv), '') END,
				CASE WHEN ?::boolean THEN ?::text ELSE COALESCE((SELECT name FROM inv), '') END,
				CASE WHEN ?::boolean THEN ?::text ELSE a.label_id END,
				CASE WHEN ?::boolean THEN ?::text ELSE COALESCE((SELECT label_id FROM inv), '') END,
				?::text, ?::text
			FROM a WHERE ?::text <> ''
		)
		SELECT COUNT(*) FROM a`
	var n int
	err := s.queryRow(ctx, q,
		c.State, c.Reason, ms(c.NotBefore), nowMS, c.ID, ActionRunning,
		c.releases(), SharingKinds[0], SharingKinds[1], SharingKinds[2], SharingKinds[3], AllowanceManual, AllowanceAuto,
		l.LabelID, l.Tenant, l.Method, nowMS, nowMS, c.Label != nil,
		nowMS, kind,
		c.File != nil, f.Path,
		c.File != nil, f.Name,
		c.Label != nil, l.LabelID,
		c.File != nil, f.PrevLabelID,
		c.Actor, c.Reason,
		kind).Scan(&n)
	if err != nil {
		return fmt.Errorf("store: complete action: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("action %d: %w", c.ID, ErrNotRunning)
	}
	return nil
}

// kindsIn is the kind condition of a claim: none for nil kinds.
func kindsIn(kinds []string) string {
	if len(kinds) == 0 {
		return ""
	}
	return ` AND kind IN (?` + strings.Repeat(", ?", len(kinds)-1) + `)`
}

// qualify prefixes each column of a comma-separated list with a table alias.
func qualify(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = alias + "." + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// optLabelCols are labelCols of a LEFT JOINed labels l: a found flag, then each column with
// a zero value where no label matched.
const optLabelCols = `l.id IS NOT NULL, COALESCE(l.app, ''), COALESCE(l.tenant, ''), COALESCE(l.id, ''), COALESCE(l.name, ''),
	COALESCE(l.display_name, ''), COALESCE(l.parent, ''), COALESCE(l.priority, 0), COALESCE(l.protection, FALSE),
	COALESCE(l.state, ''), COALESCE(l.external, FALSE), COALESCE(l.native, ''), COALESCE(l.updated_at, 0)`

// scanActionLabel scans actionCols followed by optLabelCols; the label is nil when none matched.
func scanActionLabel(sc interface{ Scan(...any) error }) (Action, *CatalogLabel, error) {
	var found bool
	var r labelRow
	a, err := scanAction(extraScan{sc, append([]any{&found}, r.dest()...)})
	if err != nil || !found {
		return a, nil, err
	}
	l := r.label()
	return a, &l, nil
}
